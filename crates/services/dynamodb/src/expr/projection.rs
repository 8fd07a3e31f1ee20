//! Applying a projection: the requested paths copied into a new item. Nested paths build a
//! sub-document as AWS does: `a.b` gives `{a: {b: ..}}`, `l[1]` gives `{l: [l[1]]}`
//! (list elements keep their relative order, missing ones are skipped), and a map or list
//! left empty is omitted.

use super::ast::{PathElem, Projection};
use crate::value::{Item, Map, Value};

enum Node<'p> {
    Whole,
    Children(Vec<(&'p PathElem, Node<'p>)>),
}

impl<'p> Node<'p> {
    fn insert(&mut self, rest: &'p [PathElem]) {
        let Some((first, tail)) = rest.split_first() else {
            *self = Node::Whole;
            return;
        };
        let Node::Children(children) = self else {
            // Already whole: a longer path inside it adds nothing.
            return;
        };
        let pos = match children.iter().position(|(e, _)| *e == first) {
            Some(pos) => pos,
            None => {
                children.push((first, Node::Children(Vec::new())));
                children.len() - 1
            }
        };
        if let Some((_, child)) = children.get_mut(pos) {
            child.insert(tail);
        }
    }

    fn copy(&self, src: &Value) -> Option<Value> {
        let children = match self {
            Node::Whole => return Some(src.clone()),
            Node::Children(c) => c,
        };
        match src {
            Value::M(m) => {
                let mut out = Map::new();
                for (e, child) in children {
                    if let PathElem::Attr(k) = e {
                        if let Some(v) = m.get(k).and_then(|v| child.copy(v)) {
                            out.insert(k.clone(), v);
                        }
                    }
                }
                (!out.is_empty()).then_some(Value::M(out))
            }
            Value::L(l) => {
                let mut idx: Vec<(usize, &Node<'_>)> = children
                    .iter()
                    .filter_map(|(e, child)| match e {
                        PathElem::Index(i) => Some((*i, child)),
                        PathElem::Attr(_) => None,
                    })
                    .collect();
                idx.sort_by_key(|(i, _)| *i);
                let out: Vec<Value> = idx
                    .into_iter()
                    .filter_map(|(i, child)| l.get(i).and_then(|v| child.copy(v)))
                    .collect();
                (!out.is_empty()).then_some(Value::L(out))
            }
            _ => None,
        }
    }
}

impl Projection {
    /// The projected item.
    pub fn apply(&self, item: &Item) -> Item {
        let mut out = Item::with_capacity(self.paths.len());
        // Fast path (the common GetItem case): top-level names only.
        if self.paths.iter().all(|p| p.is_top_level()) {
            for p in &self.paths {
                if let Some(v) = item.get(p.top()) {
                    out.insert(p.top().to_string(), v.clone());
                }
            }
            return out;
        }
        let mut tops: Vec<(&str, Node<'_>)> = Vec::new();
        for p in &self.paths {
            let rest = p.elems().get(1..).unwrap_or(&[]);
            match tops.iter_mut().find(|(t, _)| *t == p.top()) {
                Some((_, node)) => node.insert(rest),
                None => {
                    let mut node = Node::Children(Vec::new());
                    node.insert(rest);
                    tops.push((p.top(), node));
                }
            }
        }
        for (top, node) in tops {
            if let Some(v) = item.get(top).and_then(|v| node.copy(v)) {
                out.insert(top.to_string(), v);
            }
        }
        out
    }
}
