//! Prompt templates: literal text with `{{input}}`, `{{item}}` and `{{node}}` (or
//! `{{node.output}}`) placeholders.

/// A parsed template piece before names are resolved against the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPiece {
    Text(String),
    /// A placeholder name and its byte offset inside the template.
    Ref(String, usize),
}

/// A template piece with node names resolved to node indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Input,
    Item,
    Node(usize),
}

/// Splits a template into text and placeholders. Errors carry the byte offset of the problem.
pub fn parse(template: &str) -> Result<Vec<RawPiece>, (usize, String)> {
    let mut pieces = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(RawPiece::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err((offset + open, "'{{' is never closed; close the placeholder with '}}'".to_string()));
        };
        let inner = after[..close].trim();
        let name = inner.strip_suffix(".output").unwrap_or(inner).trim();
        if name.is_empty() {
            return Err((offset + open, "empty placeholder '{{}}'; name 'input', 'item' or a node id".to_string()));
        }
        if name.contains("{{") {
            return Err((offset + open, "'{{' is never closed; close the placeholder with '}}'".to_string()));
        }
        pieces.push(RawPiece::Ref(name.to_string(), offset + open));
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        pieces.push(RawPiece::Text(rest.to_string()));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_refs() {
        let p = parse("Q: {{input}} / {{ planner.output }}!").expect("parses");
        assert_eq!(
            p,
            vec![
                RawPiece::Text("Q: ".into()),
                RawPiece::Ref("input".into(), 3),
                RawPiece::Text(" / ".into()),
                RawPiece::Ref("planner".into(), 15),
                RawPiece::Text("!".into()),
            ]
        );
    }

    #[test]
    fn reports_unclosed_and_empty() {
        assert_eq!(parse("ab {{input").map_err(|e| e.0), Err(3));
        assert!(parse("{{ }}").is_err());
        assert!(parse("{{a {{b}}").is_err());
        assert_eq!(parse("no placeholders").expect("ok").len(), 1);
    }
}
