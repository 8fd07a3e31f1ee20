//! Turning expression text into checked expressions, with AWS's validation errors in
//! AWS's order, and tracking which ExpressionAttributeNames/Values a request used.
//!
//! Order of checks for one expression (as DynamoDB reports them):
//! 1. empty text, then size (4 KB);
//! 2. syntax (and redundant parentheses);
//! 3. in source order: reserved words and list index range in paths, function names and
//!    where each function may be used (and condition functions' operand counts);
//!    for updates, a section used twice;
//! 4. updates only: undefined `#names` in the target paths, then overlapping or
//!    conflicting target paths;
//! 5. placeholders, operand types and the per-operator rules, in source order
//!    (updates: from the last action back to the first);
//! 6. projections only: overlapping paths.
//!
//! After every expression of a request is parsed, `finish` reports unused names, then
//! unused values, keys listed in the order of a Java `HashSet` as AWS prints them.

use std::collections::{HashMap, HashSet};

use super::ast::{CmpOp, Condition, Operand, Path, PathElem, Projection, Update, UpdateAction};
use super::reserved::is_reserved;
use super::syntax::{
    self, RawAction, RawCall, RawClause, RawCond, RawOperand, RawPart, RawPath, SectionKind,
};
use crate::error::DynamoDbError;
use crate::value::{Value, ValueType};

/// Longest expression AWS accepts, in UTF-8 bytes.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// Most operands the right side of IN may have.
pub const MAX_IN_OPERANDS: usize = 100;
/// Deepest document path (steps).
pub const MAX_PATH_DEPTH: usize = 32;

/// Which request parameter an expression came from; names the error prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExprKind {
    KeyCondition,
    Filter,
    Condition,
    Update,
    Projection,
}

impl ExprKind {
    /// The parameter name: "ConditionExpression", ...
    pub fn label(self) -> &'static str {
        match self {
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Update => "UpdateExpression",
            ExprKind::Projection => "ProjectionExpression",
        }
    }
}

const TYPE_NAMES: &str = "{N,BS,L,B,NULL,M,S,SS,NS,BOOL}";
const ANY_TYPE: &str =
    "{SS,M,DECIMAL,DOUBLESET,HDS,N,B,DICT,INTSET,BOOL,HD,BS,INT,DECIMALSET,NULL,FLOAT,FS,S,L,NS,DOUBLE}";

/// Function names and operand counts.
fn function_arity(name: &str) -> Option<usize> {
    Some(match name {
        "attribute_exists" | "attribute_not_exists" | "size" => 1,
        "attribute_type" | "begins_with" | "contains" | "if_not_exists" | "list_append" => 2,
        _ => return None,
    })
}

fn is_condition_function(name: &str) -> bool {
    matches!(
        name,
        "attribute_exists" | "attribute_not_exists" | "attribute_type" | "begins_with" | "contains"
    )
}

fn is_update_function(name: &str) -> bool {
    matches!(name, "if_not_exists" | "list_append")
}

/// The long type names AWS uses for ADD/DELETE operand errors.
fn long_type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::S => "STRING",
        ValueType::N => "NUMBER",
        ValueType::B => "BINARY",
        ValueType::Bool => "BOOLEAN",
        ValueType::Null => "NULL",
        ValueType::L => "LIST",
        ValueType::M => "MAP",
        ValueType::Ss => "STRING_SET",
        ValueType::Ns => "NUMBER_SET",
        ValueType::Bs => "BINARY_SET",
    }
}

fn type_problem(op: &str, t: &str) -> String {
    format!(
        "Incorrect operand type for operator or function; operator or function: {op}, operand type: {t}"
    )
}

/// A BETWEEN bound as AWS prints it.
fn bound_text(v: &Value) -> String {
    match v {
        Value::S(s) => format!("AttributeValue: {{S:{s}}}"),
        Value::N(n) => format!("AttributeValue: {{N:{n}}}"),
        Value::B(b) => format!(
            "AttributeValue: {{B:java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]}}",
            b.len()
        ),
        other => format!("AttributeValue: {{{}}}", other.type_name()),
    }
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Orders `keys` as a Java `HashSet` built from `total` keys iterates them.
pub(crate) fn java_set_order(mut keys: Vec<&str>, total: usize) -> Vec<&str> {
    let want = ((total as f64 / 0.75) as usize + 1).max(16);
    let cap = want.next_power_of_two();
    let slot = |k: &str| {
        let h = java_hash(k) as u32;
        ((h ^ (h >> 16)) as usize) & (cap - 1)
    };
    // Ties (same bucket) keep the given order, which callers make deterministic.
    keys.sort_by_key(|k| slot(k));
    keys
}

/// Parses and checks the expressions of one request against its
/// ExpressionAttributeNames/Values, remembering which placeholders were used.
pub struct ExpressionContext<'a> {
    names: Option<&'a HashMap<String, String>>,
    values: Option<&'a HashMap<String, Value>>,
    used_names: HashSet<&'a str>,
    used_values: HashSet<&'a str>,
}

type CheckResult<T> = Result<T, String>;

impl<'a> ExpressionContext<'a> {
    pub fn new(
        names: Option<&'a HashMap<String, String>>,
        values: Option<&'a HashMap<String, Value>>,
    ) -> Self {
        ExpressionContext {
            names,
            values,
            used_names: HashSet::new(),
            used_values: HashSet::new(),
        }
    }

    fn prefixed(kind: ExprKind, msg: String) -> DynamoDbError {
        DynamoDbError::Validation(format!("Invalid {}: {msg}", kind.label()))
    }

    fn precheck(kind: ExprKind, text: &str) -> Result<(), DynamoDbError> {
        if text
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_empty()
        {
            return Err(Self::prefixed(
                kind,
                "The expression can not be empty;".into(),
            ));
        }
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(Self::prefixed(
                kind,
                format!(
                    "Expression size has exceeded the maximum allowed size; expression size: {}",
                    text.len()
                ),
            ));
        }
        Ok(())
    }

    /// Parses a ConditionExpression, FilterExpression or KeyConditionExpression (for the
    /// latter, convert the result with `KeyCondition::from_condition` after `finish`).
    pub fn condition(&mut self, kind: ExprKind, text: &str) -> Result<Condition, DynamoDbError> {
        Self::precheck(kind, text)?;
        let toks = syntax::tokenize(text);
        let raw = syntax::parse_condition(text, &toks)
            .map_err(|e| Self::prefixed(kind, e.message(text, &toks)))?;
        self.visit1_cond(&raw)
            .map_err(|m| Self::prefixed(kind, m))?;
        self.resolve_cond(&raw).map_err(|m| Self::prefixed(kind, m))
    }

    /// Parses an UpdateExpression.
    pub fn update(&mut self, text: &str) -> Result<Update, DynamoDbError> {
        let kind = ExprKind::Update;
        Self::precheck(kind, text)?;
        let toks = syntax::tokenize(text);
        let clauses = syntax::parse_update(text, &toks)
            .map_err(|e| Self::prefixed(kind, e.message(text, &toks)))?;
        self.check_update(&clauses)
            .map_err(|m| Self::prefixed(kind, m))
    }

    /// Parses a ProjectionExpression.
    pub fn projection(&mut self, text: &str) -> Result<Projection, DynamoDbError> {
        let kind = ExprKind::Projection;
        Self::precheck(kind, text)?;
        let toks = syntax::tokenize(text);
        let raw = syntax::parse_projection(text, &toks)
            .map_err(|e| Self::prefixed(kind, e.message(text, &toks)))?;
        self.check_projection(&raw)
            .map_err(|m| Self::prefixed(kind, m))
    }

    /// After all of a request's expressions: unused names, then unused values.
    pub fn finish(&self) -> Result<(), DynamoDbError> {
        if let Some(names) = self.names {
            let mut unused: Vec<&str> = names
                .keys()
                .map(String::as_str)
                .filter(|k| !self.used_names.contains(k))
                .collect();
            if !unused.is_empty() {
                unused.sort_unstable();
                let ordered = java_set_order(unused, names.len());
                return Err(DynamoDbError::Validation(format!(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                    ordered.join(", ")
                )));
            }
        }
        if let Some(values) = self.values {
            let mut unused: Vec<&str> = values
                .keys()
                .map(String::as_str)
                .filter(|k| !self.used_values.contains(k))
                .collect();
            if !unused.is_empty() {
                unused.sort_unstable();
                let ordered = java_set_order(unused, values.len());
                return Err(DynamoDbError::Validation(format!(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                    ordered.join(", ")
                )));
            }
        }
        Ok(())
    }

    // ---- pass 1: reserved words, indexes, functions and their places ----

    fn visit1_path(&self, p: &RawPath<'_>) -> CheckResult<()> {
        for part in &p.parts {
            match part {
                RawPart::Index(ix) => {
                    let in_range =
                        ix.len() <= 10 && ix.parse::<u64>().is_ok_and(|n| n <= 2_147_483_647);
                    if !in_range {
                        return Err(format!(
                            "List index is not within the allowable range; index: [{ix}]"
                        ));
                    }
                }
                RawPart::Name(n) => {
                    if is_reserved(n) {
                        return Err(format!(
                            "Attribute name is a reserved keyword; reserved keyword: {n}"
                        ));
                    }
                }
                RawPart::Placeholder(_) => {}
            }
        }
        Ok(())
    }

    /// `as_condition`: the call stands where a condition is expected.
    fn visit1_call(&self, c: &RawCall<'_>, as_condition: bool, update: bool) -> CheckResult<()> {
        let Some(arity) = function_arity(c.name) else {
            return Err(format!("Invalid function name; function: {}", c.name));
        };
        if update {
            if !is_update_function(c.name) {
                return Err(format!(
                    "The function is not allowed in an update expression; function: {}",
                    c.name
                ));
            }
        } else {
            if is_update_function(c.name) {
                return Err(format!(
                    "The function is not allowed in a condition expression; function: {}",
                    c.name
                ));
            }
            if as_condition != is_condition_function(c.name) {
                return Err(format!(
                    "The function is not allowed to be used this way in an expression; function: {}",
                    c.name
                ));
            }
            if c.args.len() != arity {
                return Err(arity_error(c.name, c.args.len()));
            }
        }
        for a in &c.args {
            self.visit1_op(a, update)?;
        }
        Ok(())
    }

    fn visit1_op(&self, o: &RawOperand<'_>, update: bool) -> CheckResult<()> {
        match o {
            RawOperand::Path(p) => self.visit1_path(p),
            RawOperand::Value(_) => Ok(()),
            RawOperand::Paren(inner) => self.visit1_op(inner, update),
            RawOperand::Call(c) => self.visit1_call(c, false, update),
            RawOperand::Arith { a, b, .. } => {
                self.visit1_op(a, update)?;
                self.visit1_op(b, update)
            }
        }
    }

    fn visit1_cond(&self, c: &RawCond<'_>) -> CheckResult<()> {
        match c {
            RawCond::Or(a, b) | RawCond::And(a, b) => {
                self.visit1_cond(a)?;
                self.visit1_cond(b)
            }
            RawCond::Not(a) | RawCond::Paren(a) => self.visit1_cond(a),
            RawCond::Cmp(_, a, b) => {
                self.visit1_op(a, false)?;
                self.visit1_op(b, false)
            }
            RawCond::Between(a, lo, hi) => {
                self.visit1_op(a, false)?;
                self.visit1_op(lo, false)?;
                self.visit1_op(hi, false)
            }
            RawCond::In(a, list) => {
                self.visit1_op(a, false)?;
                list.iter().try_for_each(|o| self.visit1_op(o, false))
            }
            RawCond::Call(call) => self.visit1_call(call, true, false),
        }
    }

    // ---- pass 2: placeholders, types, operator rules; builds the checked tree ----

    fn name(&mut self, placeholder: &str) -> CheckResult<String> {
        match self.names.and_then(|m| m.get_key_value(placeholder)) {
            Some((k, v)) => {
                self.used_names.insert(k.as_str());
                Ok(v.clone())
            }
            None => Err(format!(
                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
            )),
        }
    }

    fn value(&mut self, placeholder: &str) -> CheckResult<Value> {
        match self.values.and_then(|m| m.get_key_value(placeholder)) {
            Some((k, v)) => {
                self.used_values.insert(k.as_str());
                Ok(v.clone())
            }
            None => Err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            )),
        }
    }

    fn check_name_defined(&self, placeholder: &str) -> CheckResult<()> {
        if self.names.is_some_and(|m| m.contains_key(placeholder)) {
            return Ok(());
        }
        Err(format!(
            "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
        ))
    }

    fn resolve_path(&mut self, p: &RawPath<'_>) -> CheckResult<Path> {
        let mut elems = Vec::with_capacity(p.parts.len());
        for part in &p.parts {
            elems.push(match part {
                RawPart::Name(n) => PathElem::Attr((*n).to_string()),
                RawPart::Placeholder(ph) => PathElem::Attr(self.name(ph)?),
                // Range checked in pass 1.
                RawPart::Index(ix) => PathElem::Index(ix.parse::<usize>().unwrap_or(0)),
            });
        }
        if elems.len() > MAX_PATH_DEPTH {
            return Err(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                elems.len()
            ));
        }
        Path::new(elems).ok_or_else(|| "Syntax error; token: \"<EOF>\", near: \"\"".to_string())
    }

    fn resolve_op(&mut self, o: &RawOperand<'_>, update: bool) -> CheckResult<Operand> {
        match o {
            RawOperand::Path(p) => self.resolve_path(p).map(Operand::Path),
            RawOperand::Value(v) => self.value(v).map(Operand::Value),
            RawOperand::Paren(inner) => self.resolve_op(inner, update),
            RawOperand::Arith { plus, a, b } => {
                let ra = self.resolve_op(a, update)?;
                let rb = self.resolve_op(b, update)?;
                let op = if *plus { "+" } else { "-" };
                for r in [&ra, &rb] {
                    if let Some(t) = static_type(r) {
                        if t != ValueType::N {
                            return Err(type_problem(op, t.as_str()));
                        }
                    }
                }
                Ok(Operand::Arith {
                    plus: *plus,
                    a: Box::new(ra),
                    b: Box::new(rb),
                })
            }
            RawOperand::Call(c) => self.resolve_call_operand(c, update),
        }
    }

    /// Resolves a call's arguments and applies the rules shared by all functions.
    fn resolve_args(&mut self, c: &RawCall<'_>, update: bool) -> CheckResult<Vec<Operand>> {
        if update {
            let arity = function_arity(c.name).unwrap_or(0);
            if c.args.len() != arity {
                return Err(arity_error(c.name, c.args.len()));
            }
        }
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.resolve_op(a, update)?);
        }
        let needs_path = matches!(
            c.name,
            "attribute_exists" | "attribute_not_exists" | "attribute_type" | "if_not_exists"
        );
        if needs_path && !matches!(args.first(), Some(Operand::Path(_))) {
            return Err(format!(
                "Operator or function requires a document path; operator or function: {}",
                c.name
            ));
        }
        if c.name != "size" && c.name != "list_append" {
            if let Some((first, rest)) = args.split_first() {
                check_distinct(c.name, first, rest)?;
            }
        }
        match c.name {
            "size" => {
                if let Some(t) = args.first().and_then(static_type) {
                    if !matches!(
                        t,
                        ValueType::S
                            | ValueType::B
                            | ValueType::Ss
                            | ValueType::Ns
                            | ValueType::Bs
                            | ValueType::L
                            | ValueType::M
                    ) {
                        return Err(type_problem("size", t.as_str()));
                    }
                }
            }
            "begins_with" => {
                for a in &args {
                    if let Some(t) = static_type(a) {
                        if t != ValueType::S && t != ValueType::B {
                            return Err(type_problem("begins_with", t.as_str()));
                        }
                    }
                }
            }
            "list_append" => {
                for a in &args {
                    if let Some(t) = static_type(a) {
                        if t != ValueType::L {
                            return Err(type_problem("list_append", t.as_str()));
                        }
                    }
                }
            }
            "attribute_type" => match args.get(1) {
                Some(Operand::Value(Value::S(name))) => {
                    if ValueType::parse(name).is_none() {
                        return Err(format!(
                            "Invalid attribute type name found; type: {name}, valid types: {TYPE_NAMES}"
                        ));
                    }
                }
                Some(Operand::Value(v)) => {
                    return Err(type_problem("attribute_type", v.type_name()));
                }
                Some(Operand::Size(_)) => return Err(type_problem("attribute_type", "N")),
                _ => return Err(type_problem("attribute_type", ANY_TYPE)),
            },
            _ => {}
        }
        Ok(args)
    }

    fn resolve_call_operand(&mut self, c: &RawCall<'_>, update: bool) -> CheckResult<Operand> {
        let mut args = self.resolve_args(c, update)?.into_iter();
        let (Some(a), b) = (args.next(), args.next()) else {
            return Err(arity_error(c.name, 0));
        };
        match (c.name, b) {
            ("size", None) => Ok(Operand::Size(Box::new(a))),
            ("if_not_exists", Some(b)) => match a {
                Operand::Path(p) => Ok(Operand::IfNotExists(p, Box::new(b))),
                _ => Err(format!(
                    "Operator or function requires a document path; operator or function: {}",
                    c.name
                )),
            },
            ("list_append", Some(b)) => Ok(Operand::ListAppend(Box::new(a), Box::new(b))),
            // Pass 1 rejected every other use.
            _ => Err(format!(
                "The function is not allowed to be used this way in an expression; function: {}",
                c.name
            )),
        }
    }

    fn resolve_cond(&mut self, c: &RawCond<'_>) -> CheckResult<Condition> {
        Ok(match c {
            RawCond::Or(a, b) => {
                let a = self.resolve_cond(a)?;
                let b = self.resolve_cond(b)?;
                Condition::Or(Box::new(a), Box::new(b))
            }
            RawCond::And(a, b) => {
                let a = self.resolve_cond(a)?;
                let b = self.resolve_cond(b)?;
                Condition::And(Box::new(a), Box::new(b))
            }
            RawCond::Not(a) => Condition::Not(Box::new(self.resolve_cond(a)?)),
            RawCond::Paren(a) => self.resolve_cond(a)?,
            RawCond::Cmp(op, a, b) => {
                let ra = self.resolve_op(a, false)?;
                let rb = self.resolve_op(b, false)?;
                check_distinct(op.as_str(), &ra, std::slice::from_ref(&rb))?;
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    for r in [&ra, &rb] {
                        if let Some(t) = static_type(r) {
                            if !t.is_scalar_key_type() {
                                return Err(type_problem(op.as_str(), t.as_str()));
                            }
                        }
                    }
                }
                Condition::Cmp(*op, ra, rb)
            }
            RawCond::Between(a, lo, hi) => {
                let ra = self.resolve_op(a, false)?;
                let rlo = self.resolve_op(lo, false)?;
                let rhi = self.resolve_op(hi, false)?;
                check_distinct("BETWEEN", &ra, &[rlo.clone(), rhi.clone()])?;
                for r in [&ra, &rlo, &rhi] {
                    if let Some(t) = static_type(r) {
                        if !t.is_scalar_key_type() {
                            return Err(type_problem("BETWEEN", t.as_str()));
                        }
                    }
                }
                if let (Operand::Value(x), Operand::Value(y)) = (&rlo, &rhi) {
                    check_between_bounds(x, y)?;
                }
                Condition::Between(ra, rlo, rhi)
            }
            RawCond::In(a, list) => {
                let ra = self.resolve_op(a, false)?;
                let mut rl = Vec::with_capacity(list.len());
                for o in list {
                    rl.push(self.resolve_op(o, false)?);
                }
                if rl.len() > MAX_IN_OPERANDS {
                    return Err(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        rl.len()
                    ));
                }
                check_distinct("IN", &ra, &rl)?;
                Condition::In(ra, rl)
            }
            RawCond::Call(call) => {
                let mut args = self.resolve_args(call, false)?.into_iter();
                let (Some(a), b) = (args.next(), args.next()) else {
                    return Err(arity_error(call.name, 0));
                };
                let path_of = |o: Operand| match o {
                    Operand::Path(p) => Ok(p),
                    _ => Err(format!(
                        "Operator or function requires a document path; operator or function: {}",
                        call.name
                    )),
                };
                match (call.name, b) {
                    ("attribute_exists", None) => Condition::AttributeExists(path_of(a)?),
                    ("attribute_not_exists", None) => Condition::AttributeNotExists(path_of(a)?),
                    ("attribute_type", Some(b)) => Condition::AttributeType(path_of(a)?, b),
                    ("begins_with", Some(b)) => Condition::BeginsWith(a, b),
                    ("contains", Some(b)) => Condition::Contains(a, b),
                    _ => {
                        return Err(format!(
                            "The function is not allowed to be used this way in an expression; function: {}",
                            call.name
                        ))
                    }
                }
            }
        })
    }

    // ---- updates ----

    fn check_update(&mut self, clauses: &[RawClause<'_>]) -> CheckResult<Update> {
        // Pass 1 a section at a time, sections in order of first appearance.
        let mut order: Vec<SectionKind> = Vec::with_capacity(4);
        for c in clauses {
            if !order.contains(&c.kind) {
                order.push(c.kind);
            }
        }
        for kind in order {
            let mut count = 0;
            for c in clauses.iter().filter(|c| c.kind == kind) {
                count += 1;
                for a in &c.actions {
                    self.visit1_path(&a.path)?;
                    if let Some(v) = &a.value {
                        self.visit1_op(v, true)?;
                    }
                }
            }
            if count > 1 {
                return Err(format!(
                    "The \"{}\" section can only be used once in an update expression;",
                    kind.as_str()
                ));
            }
        }
        let actions: Vec<(usize, SectionKind, &RawAction<'_>)> = clauses
            .iter()
            .enumerate()
            .flat_map(|(ci, c)| c.actions.iter().map(move |a| (ci, c.kind, a)))
            .collect();
        // Target paths: #names defined, then no two overlapping or conflicting.
        let mut targets: Vec<Path> = Vec::with_capacity(actions.len());
        for (_, _, a) in &actions {
            targets.push(self.peek_path(&a.path)?);
        }
        check_overlaps(&targets)?;
        // Pass 2 from the last action back: every #name, then values and types.
        for (_, _, a) in actions.iter().rev() {
            self.names_defined_path(&a.path)?;
            if let Some(v) = &a.value {
                self.names_defined_op(v)?;
            }
        }
        let mut out: Vec<(usize, UpdateAction)> = Vec::with_capacity(actions.len());
        for (ci, kind, a) in actions.iter().rev() {
            let path = self.resolve_path(&a.path)?;
            let action = match (kind, &a.value) {
                (SectionKind::Remove, _) | (_, None) => UpdateAction::Remove(path),
                (SectionKind::Set, Some(v)) => UpdateAction::Set(path, self.resolve_op(v, true)?),
                (SectionKind::Add, Some(v)) | (SectionKind::Delete, Some(v)) => {
                    let Operand::Value(value) = self.resolve_op(v, true)? else {
                        return Err("Syntax error; token: \"<EOF>\", near: \"\"".into());
                    };
                    let t = value.value_type();
                    let allowed = match kind {
                        SectionKind::Add => {
                            matches!(
                                t,
                                ValueType::N | ValueType::Ss | ValueType::Ns | ValueType::Bs
                            )
                        }
                        _ => matches!(t, ValueType::Ss | ValueType::Ns | ValueType::Bs),
                    };
                    if !allowed {
                        return Err(format!(
                            "Incorrect operand type for operator or function; operator: {}, operand type: {}, typeSet: ALLOWED_FOR_{}_OPERAND",
                            kind.as_str(),
                            long_type_name(t),
                            kind.as_str()
                        ));
                    }
                    if *kind == SectionKind::Add {
                        UpdateAction::Add(path, value)
                    } else {
                        UpdateAction::Delete(path, value)
                    }
                }
            };
            out.push((*ci, action));
        }
        out.reverse();
        Ok(Update {
            actions: out,
            clauses: clauses.len(),
            legacy: false,
        })
    }

    /// Resolves a path's names without marking them used (for the overlap check).
    fn peek_path(&self, p: &RawPath<'_>) -> CheckResult<Path> {
        let mut elems = Vec::with_capacity(p.parts.len());
        for part in &p.parts {
            elems.push(match part {
                RawPart::Name(n) => PathElem::Attr((*n).to_string()),
                RawPart::Placeholder(ph) => {
                    self.check_name_defined(ph)?;
                    let name = self
                        .names
                        .and_then(|m| m.get(*ph))
                        .cloned()
                        .unwrap_or_default();
                    PathElem::Attr(name)
                }
                RawPart::Index(ix) => PathElem::Index(ix.parse::<usize>().unwrap_or(0)),
            });
        }
        Path::new(elems).ok_or_else(|| "Syntax error; token: \"<EOF>\", near: \"\"".to_string())
    }

    fn names_defined_path(&self, p: &RawPath<'_>) -> CheckResult<()> {
        for part in &p.parts {
            if let RawPart::Placeholder(ph) = part {
                self.check_name_defined(ph)?;
            }
        }
        Ok(())
    }

    fn names_defined_op(&self, o: &RawOperand<'_>) -> CheckResult<()> {
        match o {
            RawOperand::Path(p) => self.names_defined_path(p),
            RawOperand::Value(_) => Ok(()),
            RawOperand::Paren(inner) => self.names_defined_op(inner),
            RawOperand::Call(c) => c.args.iter().try_for_each(|a| self.names_defined_op(a)),
            RawOperand::Arith { a, b, .. } => {
                self.names_defined_op(a)?;
                self.names_defined_op(b)
            }
        }
    }

    // ---- projections ----

    fn check_projection(&mut self, raw: &[RawPath<'_>]) -> CheckResult<Projection> {
        for p in raw {
            self.visit1_path(p)?;
        }
        let mut paths = Vec::with_capacity(raw.len());
        for p in raw {
            paths.push(self.resolve_path(p)?);
        }
        check_overlaps(&paths)?;
        Ok(Projection { paths })
    }
}

fn arity_error(name: &str, n: usize) -> String {
    format!(
        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {n}"
    )
}

/// The type an operand has whatever the item: a value's type, N for `size()`.
pub(crate) fn static_type(o: &Operand) -> Option<ValueType> {
    match o {
        Operand::Value(v) => Some(v.value_type()),
        Operand::Size(_) => Some(ValueType::N),
        _ => None,
    }
}

fn check_distinct(op: &str, first: &Operand, rest: &[Operand]) -> CheckResult<()> {
    let Operand::Path(p) = first else {
        return Ok(());
    };
    if rest.iter().any(|r| matches!(r, Operand::Path(q) if q == p)) {
        return Err(format!(
            "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {p}"
        ));
    }
    Ok(())
}

/// BETWEEN with two constant bounds: same type, lower <= upper.
pub(crate) fn check_between_bounds(lo: &Value, hi: &Value) -> CheckResult<()> {
    if lo.value_type() != hi.value_type() {
        return Err(format!(
            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: {}, upper bound operand: {}",
            bound_text(lo),
            bound_text(hi)
        ));
    }
    if lo.compare_scalar(hi) == Some(std::cmp::Ordering::Greater) {
        return Err(format!(
            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
            bound_text(lo),
            bound_text(hi)
        ));
    }
    Ok(())
}

/// Two paths of one update or projection may not be equal, nested in one another, or use
/// one step as both a list index and a map key.
pub(crate) fn check_overlaps(paths: &[Path]) -> CheckResult<()> {
    for (j, later) in paths.iter().enumerate() {
        for earlier in &paths[..j] {
            let (a, b) = (earlier.elems(), later.elems());
            let mut clash = Some("overlap");
            for (x, y) in a.iter().zip(b.iter()) {
                match (x, y) {
                    (PathElem::Attr(p), PathElem::Attr(q)) if p == q => continue,
                    (PathElem::Index(p), PathElem::Index(q)) if p == q => continue,
                    (PathElem::Attr(_), PathElem::Index(_))
                    | (PathElem::Index(_), PathElem::Attr(_)) => {
                        clash = Some("conflict");
                    }
                    _ => clash = None,
                }
                break;
            }
            if let Some(what) = clash {
                return Err(format!(
                    "Two document paths {what} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"
                ));
            }
        }
    }
    Ok(())
}

/// Checks an ExpressionAttributeNames map the way AWS does before any expression.
pub fn validate_names_map(names: &HashMap<String, String>) -> Result<(), DynamoDbError> {
    if names.is_empty() {
        return Err(DynamoDbError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    let mut keys: Vec<&String> = names.keys().collect();
    keys.sort_unstable();
    for k in keys {
        let ok = k.len() > 1
            && k.starts_with('#')
            && k.bytes()
                .skip(1)
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(DynamoDbError::Validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
        if names.get(k).is_some_and(String::is_empty) {
            return Err(DynamoDbError::Validation(format!(
                "ExpressionAttributeNames contains invalid value: Empty attribute name for key {k}"
            )));
        }
    }
    Ok(())
}

/// Checks the keys of an ExpressionAttributeValues map (the values themselves are
/// validated when converted from the wire).
pub fn validate_values_map_keys<'k>(
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<(), DynamoDbError> {
    let mut any = false;
    for k in keys {
        any = true;
        let ok = k.len() > 1
            && k.starts_with(':')
            && k.bytes()
                .skip(1)
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(DynamoDbError::Validation(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
            )));
        }
    }
    if !any {
        return Err(DynamoDbError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    Ok(())
}
