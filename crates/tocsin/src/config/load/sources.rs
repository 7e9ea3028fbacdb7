//! The `sources` section: push switches per security product.

use super::*;

impl Cx<'_> {
    pub(super) fn sources(&mut self, node: &Node) -> Vec<Source> {
        let mut out: Vec<Source> = Vec::new();
        let mut names = Vec::new();
        for (i, item) in self.list_items(node, "sources").into_iter().enumerate() {
            let p = format!("sources[{i}]");
            let Some(entries) = self.map(item, &p, &["name", "product", "items"]) else {
                continue;
            };
            let (name, name_line) = self.name(&entries, item.line, &p);
            names.push((name.clone(), name_line, p.clone()));
            let mut src = Source {
                name,
                product: "Sas".into(),
                items: BTreeMap::new(),
                line: item.line,
            };
            let mut product_line = item.line;
            for (k, v) in entries {
                let kp = join(&p, &k.text);
                match k.text.as_str() {
                    "product" => {
                        product_line = v.line;
                        if let Some(s) = self.string(v, &kp) {
                            if s.trim().is_empty() {
                                self.error(v.line, &kp, "must not be empty");
                            } else {
                                src.product = s;
                            }
                        }
                    }
                    "items" => {
                        let Value::Map(pairs) = &v.value else {
                            if v.value != Value::Null {
                                self.error(
                                    v.line,
                                    &kp,
                                    format!("expected a map, found {}", v.kind()),
                                );
                            }
                            continue;
                        };
                        for (ik, iv) in pairs {
                            let ip = join(&kp, &ik.text);
                            let Some(it) = Item::from_key(&ik.text) else {
                                let valid: Vec<&str> = Item::ALL.iter().map(|i| i.key()).collect();
                                self.error(
                                    ik.line,
                                    &ip,
                                    format!(
                                        "unknown item `{}` (items: {})",
                                        ik.text,
                                        valid.join(", ")
                                    ),
                                );
                                continue;
                            };
                            let mut sw = ItemSwitch {
                                details: true,
                                overview: true,
                            };
                            if let Some(switches) = self.map(iv, &ip, &["details", "overview"]) {
                                for (sk, sv) in switches {
                                    if let Some(b) = self.boolean(sv, &join(&ip, &sk.text)) {
                                        if sk.text == "details" {
                                            sw.details = b;
                                        } else {
                                            sw.overview = b;
                                        }
                                    }
                                }
                            }
                            src.items.insert(it, sw);
                        }
                    }
                    _ => {}
                }
            }
            if let Some(first) = out
                .iter()
                .find(|s| crate::catalog::same_product(&s.product, &src.product))
            {
                self.error(
                    product_line,
                    &join(&p, "product"),
                    format!(
                        "product `{}` already has a source (`{}`)",
                        src.product, first.name
                    ),
                );
            }
            out.push(src);
        }
        self.unique("source", &names);
        out
    }
}
