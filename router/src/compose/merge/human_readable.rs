//! Lists of subgraphs in messages, phrased like Apollo's: `subgraphs "a", "b" and "c"`.

/// `subgraph "a"` or `subgraphs "a" and "b"`.
pub fn subgraph_list<S: AsRef<str>>(names: &[S]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{}\"", n.as_ref())).collect();
    match quoted.as_slice() {
        [] => "no subgraph".to_string(),
        [one] => format!("subgraph {one}"),
        [init @ .., last] => format!("subgraphs {} and {last}", init.join(", ")),
    }
}

/// Groups subgraphs by a displayed value: `type "A" in subgraph "x" but type "B" in subgraphs "y" and "z"`.
pub fn mismatch_description(values: &[(String, String)]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (subgraph, value) in values {
        match groups.iter_mut().find(|(v, _)| v == value) {
            Some((_, subgraphs)) => subgraphs.push(subgraph),
            None => groups.push((value, vec![subgraph])),
        }
    }
    groups
        .iter()
        .map(|(value, subgraphs)| format!("{value} in {}", subgraph_list(subgraphs)))
        .collect::<Vec<_>>()
        .join(" but ")
}
