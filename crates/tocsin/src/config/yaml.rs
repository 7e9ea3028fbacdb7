//! YAML → a small node tree that keeps the line of every key and value, so
//! that validation can report `FILE:LINE: PATH: message`.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
}

impl Node {
    /// The line of what a config path (`exclude[1].event_names[0]`) names
    /// under this node: the deepest part of the path that exists (a key's
    /// own line for a map entry), this node's line for an empty path.
    pub fn line_at(&self, path: &str) -> usize {
        let mut node = self;
        let mut line = self.line;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                let Value::Map(entries) = &node.value else {
                    return line;
                };
                let Some((k, v)) = entries.iter().find(|(k, _)| k.text == key) else {
                    return line;
                };
                line = k.line;
                node = v;
            }
            for index in indexes.split(['[', ']']).filter(|x| !x.is_empty()) {
                let (Value::Seq(items), Ok(i)) = (&node.value, index.parse::<usize>()) else {
                    return line;
                };
                let Some(item) = items.get(i) else {
                    return line;
                };
                line = item.line;
                node = item;
            }
        }
        line
    }

    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

/// A syntax error: line and message.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

enum Frame {
    Seq(Vec<Node>, usize),
    Map(Vec<(Key, Node)>, usize, Option<Key>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    error: Option<SyntaxError>,
}

fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Value::Int(i)
            } else {
                // Nothing in the config is a fractional number: other plain
                // scalars (`1.5`, `0x1F`) keep their text as a string.
                Value::Str(s.to_string())
            }
        }
    }
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, _, pending)) => match pending.take() {
                None => {
                    let text = match &node.value {
                        Value::Str(s) => s.clone(),
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => String::new(),
                        _ => {
                            self.error.get_or_insert(SyntaxError {
                                line: node.line,
                                message: "a map key must be a plain value".into(),
                            });
                            String::new()
                        }
                    };
                    *pending = Some(Key {
                        text,
                        line: node.line,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.error.get_or_insert(SyntaxError {
                        line,
                        message: "only one YAML document is allowed".into(),
                    });
                }
            }
            Event::Alias(_) => {
                self.error.get_or_insert(SyntaxError {
                    line,
                    message: "YAML aliases (*name) are not supported: write the value out".into(),
                });
                self.push_value(Node {
                    value: Value::Null,
                    line,
                });
            }
            Event::Scalar(s, style, anchor, tag) => {
                if anchor > 0 {
                    self.error.get_or_insert(SyntaxError {
                        line,
                        message: "YAML anchors (&name) are not supported: write the value out"
                            .into(),
                    });
                }
                let explicit_str = tag.is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !explicit_str {
                    plain_scalar(&s)
                } else {
                    Value::Str(s)
                };
                self.push_value(Node { value, line });
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if anchor > 0 {
                    self.error.get_or_insert(SyntaxError {
                        line,
                        message: "YAML anchors (&name) are not supported: write the value out"
                            .into(),
                    });
                }
                if matches!(ev, Event::SequenceStart(..)) {
                    self.stack.push(Frame::Seq(Vec::new(), line));
                } else {
                    self.stack.push(Frame::Map(Vec::new(), line, None));
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, l)) = self.stack.pop() {
                    self.push_value(Node {
                        value: Value::Seq(items),
                        line: l,
                    });
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, l, _)) = self.stack.pop() {
                    self.push_value(Node {
                        value: Value::Map(entries),
                        line: l,
                    });
                }
            }
            _ => {}
        }
    }
}

/// Parses one YAML document. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        line: e.marker().line().max(1),
        message: e.info().to_string(),
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        line: 1,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_at_follows_a_config_path() {
        let n = parse("name: c\nlevels: [critical]\nexclude:\n  - event_names: [a]\n  - levels:\n      - info\n      - loud\n").unwrap();
        assert_eq!(n.line_at(""), 1);
        assert_eq!(n.line_at("levels[0]"), 2);
        assert_eq!(n.line_at("exclude[1]"), 5);
        assert_eq!(n.line_at("exclude[1].levels[1]"), 7);
        // What does not exist: the deepest part that does.
        assert_eq!(n.line_at("exclude[1].groups"), 5);
        assert_eq!(n.line_at("nope.deeper"), 1);
    }

    #[test]
    fn lines_and_scalars() {
        let n = parse("a: 1\nb:\n  - x\n  - 'true'\nc: true\nd: ~\ne: 1.5\n").unwrap();
        let Value::Map(m) = n.value else { panic!() };
        assert_eq!(
            m[0].0,
            Key {
                text: "a".into(),
                line: 1
            }
        );
        assert_eq!(m[0].1.value, Value::Int(1));
        let Value::Seq(items) = &m[1].1.value else {
            panic!()
        };
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].value, Value::Str("true".into()));
        assert_eq!(m[2].1.value, Value::Bool(true));
        assert_eq!(m[3].1.value, Value::Null);
        assert_eq!(m[4].1.value, Value::Str("1.5".into()));
    }

    #[test]
    fn errors() {
        assert_eq!(parse("a: [1\n").unwrap_err().line, 2);
        assert!(
            parse("a: &x 1\nb: *x\n")
                .unwrap_err()
                .message
                .contains("anchors")
        );
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert_eq!(parse("").unwrap().value, Value::Null);
    }
}
