//! Checked expressions: placeholders resolved, ready to evaluate. Built by
//! `ExpressionContext` from expression text, or by `legacy` from the pre-expression
//! parameters.

use std::fmt;

use crate::value::Value;

pub use super::syntax::{CmpOp, SectionKind};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElem {
    /// A map key (or, first, a top-level attribute name).
    Attr(String),
    /// A list index.
    Index(usize),
}

/// A document path such as `a.b[3].c`; never empty, and starts with an attribute name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    elems: Vec<PathElem>,
}

impl Path {
    /// `None` when `elems` is empty or does not start with an attribute name.
    pub fn new(elems: Vec<PathElem>) -> Option<Path> {
        match elems.first() {
            Some(PathElem::Attr(_)) => Some(Path { elems }),
            _ => None,
        }
    }

    /// A top-level attribute.
    pub fn attr(name: impl Into<String>) -> Path {
        Path {
            elems: vec![PathElem::Attr(name.into())],
        }
    }

    pub fn elems(&self) -> &[PathElem] {
        &self.elems
    }

    /// The top-level attribute this path starts at.
    pub fn top(&self) -> &str {
        match self.elems.first() {
            Some(PathElem::Attr(a)) => a,
            // Unreachable by construction; an empty name matches no attribute.
            _ => "",
        }
    }

    pub fn is_top_level(&self) -> bool {
        self.elems.len() == 1
    }

    pub fn len(&self) -> usize {
        self.elems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }
}

/// AWS's rendering in messages: `[a, b, [3], c]`.
impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.elems.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match e {
                PathElem::Attr(a) => f.write_str(a)?,
                PathElem::Index(n) => write!(f, "[{n}]")?,
            }
        }
        f.write_str("]")
    }
}

/// A value-producing operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    /// A resolved `:placeholder` (or a legacy AttributeValueList member).
    Value(Value),
    /// `size(operand)`
    Size(Box<Operand>),
    /// `if_not_exists(path, operand)` (SET only)
    IfNotExists(Path, Box<Operand>),
    /// `list_append(a, b)` (SET only)
    ListAppend(Box<Operand>, Box<Operand>),
    /// `a + b` / `a - b` (SET only)
    Arith {
        plus: bool,
        a: Box<Operand>,
        b: Box<Operand>,
    },
}

impl Operand {
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            Operand::Path(p) => Some(p),
            _ => None,
        }
    }

    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Operand::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// A condition (ConditionExpression, FilterExpression, KeyConditionExpression, legacy
/// Expected/QueryFilter/ScanFilter/KeyConditions).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    AttributeExists(Path),
    AttributeNotExists(Path),
    /// `attribute_type(path, :type)`; the operand is a value holding a type name.
    AttributeType(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

impl Condition {
    /// Calls `f` on every document path the condition reads.
    pub fn for_each_path<'s>(&'s self, f: &mut impl FnMut(&'s Path)) {
        fn op<'s>(o: &'s Operand, f: &mut impl FnMut(&'s Path)) {
            match o {
                Operand::Path(p) => f(p),
                Operand::Value(_) => {}
                Operand::Size(a) => op(a, f),
                Operand::IfNotExists(p, a) => {
                    f(p);
                    op(a, f);
                }
                Operand::ListAppend(a, b) | Operand::Arith { a, b, .. } => {
                    op(a, f);
                    op(b, f);
                }
            }
        }
        match self {
            Condition::Cmp(_, a, b) | Condition::BeginsWith(a, b) | Condition::Contains(a, b) => {
                op(a, f);
                op(b, f);
            }
            Condition::Between(a, b, c) => {
                op(a, f);
                op(b, f);
                op(c, f);
            }
            Condition::In(a, list) => {
                op(a, f);
                list.iter().for_each(|o| op(o, f));
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.for_each_path(f);
                b.for_each_path(f);
            }
            Condition::Not(a) => a.for_each_path(f),
            Condition::AttributeExists(p) | Condition::AttributeNotExists(p) => f(p),
            Condition::AttributeType(p, o) => {
                f(p);
                op(o, f);
            }
        }
    }
}

/// One action of an update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateAction {
    Set(Path, Operand),
    Remove(Path),
    /// ADD: number addition or set union; a list value (legacy AttributeUpdates only)
    /// appends.
    Add(Path, Value),
    /// DELETE: set difference.
    Delete(Path, Value),
}

impl UpdateAction {
    pub fn path(&self) -> &Path {
        match self {
            UpdateAction::Set(p, _)
            | UpdateAction::Remove(p)
            | UpdateAction::Add(p, _)
            | UpdateAction::Delete(p, _) => p,
        }
    }

    pub fn section(&self) -> SectionKind {
        match self {
            UpdateAction::Set(..) => SectionKind::Set,
            UpdateAction::Remove(_) => SectionKind::Remove,
            UpdateAction::Add(..) => SectionKind::Add,
            UpdateAction::Delete(..) => SectionKind::Delete,
        }
    }
}

/// A checked update: its actions in expression order, each with the index of the clause
/// (section occurrence) it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub(crate) actions: Vec<(usize, UpdateAction)>,
    pub(crate) clauses: usize,
    /// Built from legacy AttributeUpdates: type errors use that API's wording.
    pub(crate) legacy: bool,
}

impl Update {
    /// Builds an update whose actions each form their own clause, in order, with the
    /// error wording of legacy AttributeUpdates.
    pub fn from_actions(actions: Vec<UpdateAction>) -> Update {
        let clauses = actions.len();
        Update {
            actions: actions.into_iter().enumerate().collect(),
            clauses,
            legacy: true,
        }
    }

    pub fn actions(&self) -> impl Iterator<Item = &UpdateAction> {
        self.actions.iter().map(|(_, a)| a)
    }

    /// The top-level attributes the update writes (SET/REMOVE/ADD/DELETE targets), in
    /// order, without duplicates; for the "part of the key" check and index maintenance.
    pub fn top_level_targets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (_, a) in &self.actions {
            let t = a.path().top();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }

    /// Every document path the update reads or writes (targets and SET operands).
    pub fn for_each_path<'s>(&'s self, f: &mut impl FnMut(&'s Path)) {
        fn op<'s>(o: &'s Operand, f: &mut impl FnMut(&'s Path)) {
            match o {
                Operand::Path(p) => f(p),
                Operand::Value(_) => {}
                Operand::Size(a) => op(a, f),
                Operand::IfNotExists(p, a) => {
                    f(p);
                    op(a, f);
                }
                Operand::ListAppend(a, b) | Operand::Arith { a, b, .. } => {
                    op(a, f);
                    op(b, f);
                }
            }
        }
        for (_, a) in &self.actions {
            f(a.path());
            if let UpdateAction::Set(_, o) = a {
                op(o, f);
            }
        }
    }
}

/// A checked projection: the paths to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    pub(crate) paths: Vec<Path>,
}

impl Projection {
    /// A projection of top-level attributes (AttributesToGet).
    pub fn from_paths(paths: Vec<Path>) -> Projection {
        Projection { paths }
    }

    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// The top-level attributes the projection needs (for index projections and reads).
    pub fn top_level_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.paths {
            if !out.contains(&p.top()) {
                out.push(p.top());
            }
        }
        out
    }
}
