//! Compile-time checks of `@key`/`@requires`/`@provides` field sets.

/// A field set's top-level field names, or why it does not parse.
pub fn top_level_names(source: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut expect_name_before_brace = false;
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' => {}
            '{' => {
                if !expect_name_before_brace {
                    return Err("`{` must follow a field name".into());
                }
                expect_name_before_brace = false;
                depth += 1;
            }
            '}' => {
                if depth == 0 {
                    return Err("unbalanced `}`".into());
                }
                depth -= 1;
                expect_name_before_brace = false;
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, next)) = chars.peek() {
                    if next == '_' || next.is_ascii_alphanumeric() {
                        end = j + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                if depth == 0 {
                    names.push(source[i..end].to_string());
                }
                expect_name_before_brace = true;
            }
            other => {
                return Err(format!(
                    "unexpected `{other}` (only field names and braces are allowed)"
                ));
            }
        }
    }
    if depth != 0 {
        return Err("missing `}`".into());
    }
    if names.is_empty() {
        return Err("it selects no field".into());
    }
    Ok(names)
}
