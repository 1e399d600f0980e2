//! `${env.NAME}` and `${env.NAME:-default}` expansion in `supergraph.yaml`, like rover's.
//!
//! Expansion happens on the YAML text (outside comments) so that later YAML errors keep
//! their line numbers.

/// An `${env.NAME}` reference to an unset variable without a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    /// The variable name.
    pub name: String,
    /// 1-based line of the reference.
    pub line: usize,
}

/// Replaces every `${env.NAME}` / `${env.NAME:-default}` with the variable's value as
/// given by `lookup`; references inside YAML comments are left alone.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, UnsetVariable> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let (content, comment) = line.split_at(comment_start(line));
        let mut rest = content;
        while let Some(start) = rest.find("${env.") {
            out.push_str(&rest[..start]);
            let after = &rest[start + "${env.".len()..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let reference = &after[..end];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            match lookup(name).or_else(|| default.map(str::to_string)) {
                Some(value) => out.push_str(&value),
                None => {
                    return Err(UnsetVariable {
                        name: name.to_string(),
                        line: index + 1,
                    });
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out.push_str(comment);
    }
    Ok(out)
}

/// Byte offset where a YAML comment starts on this line (the line length if none): a `#`
/// at the start or after whitespace, outside quotes.
fn comment_start(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (offset, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return offset,
            None => {}
        }
        previous = c;
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "PORT").then(|| "4001".to_string())
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        let text = "url: http://localhost:${env.PORT}/a\nhost: ${env.HOST:-example.com}\n";
        assert_eq!(
            expand_env(text, env),
            Ok("url: http://localhost:4001/a\nhost: example.com\n".to_string())
        );
    }

    #[test]
    fn reports_unset_variable_with_line() {
        let text = "a: 1\nb: ${env.MISSING}\n";
        assert_eq!(
            expand_env(text, env),
            Err(UnsetVariable {
                name: "MISSING".to_string(),
                line: 2
            })
        );
    }

    #[test]
    fn leaves_comments_alone() {
        let text = "# uses ${env.MISSING}\na: '#${env.PORT}' # ${env.OTHER}\n";
        assert_eq!(
            expand_env(text, env),
            Ok("# uses ${env.MISSING}\na: '#4001' # ${env.OTHER}\n".to_string())
        );
    }
}
