//! Emits one Rust module per service model. The output is plain text, formatted by
//! rustfmt afterwards; everything here only decides *what* to write.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use indexmap::IndexSet;

use crate::model::{MemberRef, Model, Shape};
use crate::names::{field, lower_first, snake, type_name, upper_snake, variant};
use crate::ServiceSpec;

mod rest;

/// `writeln!` into a `String` cannot fail; this keeps the emitter free of `?` noise.
macro_rules! w {
    ($dst:expr) => {{
        $dst.push('\n');
    }};
    ($dst:expr, $($arg:tt)*) => {{
        let _ = writeln!($dst, $($arg)*);
    }};
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Json,
    Query,
    RestJson,
    Other,
}

pub struct Gen<'a> {
    spec: &'a ServiceSpec,
    m: &'a Model,
    proto: Proto,
    /// Shapes reachable from operation inputs: they get decoders and renderers.
    input: IndexSet<String>,
    /// Shapes reachable from operation outputs: they get encoders.
    output: IndexSet<String>,
    /// Shapes whose contents AWS does not constraint-check (see `ServiceSpec`).
    unvalidated: HashSet<String>,
    /// (structure, member) pairs that need a `Box` to break a recursive type.
    boxed: HashSet<(String, String)>,
    statics: String,
    statics_done: HashSet<String>,
    /// Patterns that could not be translated to the `regex` crate's syntax.
    pub skipped_patterns: Vec<String>,
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn number_i64(n: &serde_json::Number) -> i64 {
    n.as_i64()
        .or_else(|| n.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

/// A double bound as Java prints it (`1.0`, `0.5`).
fn java_double(n: &serde_json::Number) -> String {
    let f = n.as_f64().unwrap_or(0.0);
    let s = format!("{f}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Translates a Java pattern (as AWS models write them) into `regex` syntax, anchored
/// for a whole-string match. Java's `\w` and `\d` are ASCII-only; `\uXXXX` becomes
/// `\x{XXXX}`; `\p{Print}` is ASCII printable.
pub fn translate_pattern(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut in_class = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if p[char_offset(&chars, i)..].starts_with(SUPPLEMENTARY) => {
                // Java matches UTF-16 units: a high..low surrogate range pair means
                // every supplementary character.
                out.push_str("\\x{10000}-\\x{10FFFF}");
                i += SUPPLEMENTARY.len();
                continue;
            }
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                match n {
                    'u' if i + 6 <= chars.len()
                        && chars[i + 2..i + 6].iter().all(|c| c.is_ascii_hexdigit()) =>
                    {
                        let hex: String = chars[i + 2..i + 6].iter().collect();
                        out.push_str(&format!("\\x{{{hex}}}"));
                        i += 6;
                        continue;
                    }
                    'w' => out.push_str(if in_class > 0 {
                        "0-9A-Za-z_"
                    } else {
                        "[0-9A-Za-z_]"
                    }),
                    'd' => out.push_str(if in_class > 0 { "0-9" } else { "[0-9]" }),
                    'p' if p[char_offset(&chars, i)..].starts_with("\\p{Print}") => {
                        out.push_str(if in_class > 0 {
                            "\\x20-\\x7E"
                        } else {
                            "[\\x20-\\x7E]"
                        });
                        i += "\\p{Print}".len();
                        continue;
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                i += 2;
                continue;
            }
            '[' => in_class += 1,
            ']' if in_class > 0 => in_class -= 1,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    format!("^(?:{out})$")
}

/// `\uD800\uDC00-\uDBFF\uDFFF` inside a class: Java's spelling of "any supplementary
/// character" as a surrogate-pair range.
const SUPPLEMENTARY: &str = "\\uD800\\uDC00-\\uDBFF\\uDFFF";

fn char_offset(chars: &[char], i: usize) -> usize {
    chars[..i].iter().map(|c| c.len_utf8()).sum()
}

impl<'a> Gen<'a> {
    pub fn new(spec: &'a ServiceSpec, m: &'a Model) -> Result<Self> {
        let proto = match m.metadata.protocol.as_str() {
            "json" => Proto::Json,
            "query" => Proto::Query,
            "rest-json" => Proto::RestJson,
            _ => Proto::Other,
        };
        let mut g = Gen {
            spec,
            m,
            proto,
            input: IndexSet::new(),
            output: IndexSet::new(),
            unvalidated: HashSet::new(),
            boxed: HashSet::new(),
            statics: String::new(),
            statics_done: HashSet::new(),
            skipped_patterns: Vec::new(),
        };
        for op in m.operations.values() {
            if let Some(i) = &op.input {
                let mut set = std::mem::take(&mut g.input);
                g.reach(&i.shape, &mut set)?;
                g.input = set;
            }
            if let Some(o) = &op.output {
                let mut set = std::mem::take(&mut g.output);
                g.reach(&o.shape, &mut set)?;
                g.output = set;
            }
        }
        if proto == Proto::RestJson {
            // Error shapes are encoded too: `From<ErrorShape> for AwsError` carries their
            // extra members (Lambda's `Reason`, `retryAfterSeconds`).
            for (name, s) in &m.shapes {
                if s.exception {
                    let mut set = std::mem::take(&mut g.output);
                    g.reach(name, &mut set)?;
                    g.output = set;
                }
            }
        }
        for root in spec.unvalidated_roots {
            let mut set = IndexSet::new();
            g.reach(root, &mut set)?;
            g.unvalidated.extend(set);
        }
        g.find_boxed();
        Ok(g)
    }

    fn shape(&self, name: &str) -> Result<&'a Shape> {
        self.m
            .shapes
            .get(name)
            .with_context(|| format!("shape {name} is referenced but not defined"))
    }

    /// Shape lookup for names already validated by `reach`.
    fn sh(&self, name: &str) -> &'a Shape {
        &self.m.shapes[name]
    }

    fn reach(&self, name: &str, set: &mut IndexSet<String>) -> Result<()> {
        if !set.insert(name.to_string()) {
            return Ok(());
        }
        let s = self.shape(name)?;
        for mr in s.members.values() {
            self.reach(&mr.shape, set)?;
        }
        for mr in [&s.member, &s.key, &s.value].into_iter().flatten() {
            self.reach(&mr.shape, set)?;
        }
        Ok(())
    }

    /// A member must be boxed when its structure can reach the containing structure
    /// through structure members alone (collections already add indirection).
    fn find_boxed(&mut self) {
        let mut reach: HashMap<&str, HashSet<&str>> = HashMap::new();
        for (name, s) in &self.m.shapes {
            if s.kind != "structure" {
                continue;
            }
            let mut seen = HashSet::new();
            let mut stack = vec![name.as_str()];
            while let Some(n) = stack.pop() {
                let Some(sh) = self.m.shapes.get(n) else {
                    continue;
                };
                for mr in sh.members.values() {
                    let is_struct = self
                        .m
                        .shapes
                        .get(&mr.shape)
                        .is_some_and(|t| t.kind == "structure");
                    if is_struct && seen.insert(mr.shape.as_str()) {
                        stack.push(mr.shape.as_str());
                    }
                }
            }
            reach.insert(name.as_str(), seen);
        }
        for (name, s) in &self.m.shapes {
            if s.kind != "structure" {
                continue;
            }
            for (mname, mr) in &s.members {
                if reach
                    .get(mr.shape.as_str())
                    .is_some_and(|r| r.contains(name.as_str()))
                    || mr.shape == *name
                {
                    self.boxed.insert((name.clone(), mname.clone()));
                }
            }
        }
    }

    // ---------------------------------------------------------------- types

    fn rust_type(&self, name: &str) -> String {
        let s = self.sh(name);
        match s.kind.as_str() {
            "structure" => type_name(name),
            "string" if s.is_enum() => type_name(name),
            "string" => "String".into(),
            "list" => format!("Vec<{}>", self.rust_type(&self.elem(s).shape)),
            "map" => format!("HashMap<String, {}>", self.rust_type(&self.val(s).shape)),
            "blob" => "Vec<u8>".into(),
            "boolean" => "bool".into(),
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "double" | "float" | "timestamp" => "f64".into(),
            other => format!("/* unsupported {other} */ ()"),
        }
    }

    fn elem(&self, s: &'a Shape) -> &'a MemberRef {
        s.member.as_ref().unwrap_or_else(|| unreachable_member())
    }

    fn val(&self, s: &'a Shape) -> &'a MemberRef {
        s.value.as_ref().unwrap_or_else(|| unreachable_member())
    }

    fn field_type(&self, sname: &str, mname: &str, mr: &MemberRef, required: bool) -> String {
        let mut t = self.rust_type(&mr.shape);
        if self.boxed.contains(&(sname.to_string(), mname.to_string())) {
            t = format!("Box<{t}>");
        }
        if required {
            t
        } else {
            format!("Option<{t}>")
        }
    }

    fn java_type(&self, name: &str) -> String {
        let s = self.sh(name);
        match s.kind.as_str() {
            "string" => "java.lang.String".into(),
            "integer" => "java.lang.Integer".into(),
            "long" => "java.lang.Long".into(),
            "boolean" => "java.lang.Boolean".into(),
            "double" => "java.lang.Double".into(),
            "float" => "java.lang.Float".into(),
            "blob" => "java.nio.ByteBuffer".into(),
            "timestamp" => "java.util.Date".into(),
            "structure" => format!("{}.{}", self.spec.java_ns, name),
            "list" => format!("java.util.List<{}>", self.java_type(&self.elem(s).shape)),
            "map" => format!(
                "java.util.Map<java.lang.String, {}>",
                self.java_type(&self.val(s).shape)
            ),
            _ => "java.lang.Object".into(),
        }
    }

    /// The enum's values as AWS lists them in `Member must satisfy enum value set: [..]`:
    /// model order unless the service spec records AWS's own order.
    fn enum_value_set(&self, name: &str, s: &Shape) -> String {
        if let Some((_, order)) = self.spec.enum_order.iter().find(|(n, _)| *n == name) {
            return order.join(", ");
        }
        s.enum_values.as_deref().unwrap_or(&[]).join(", ")
    }

    /// The order AWS's request layer visits the members of a structure in: the iteration
    /// order of a `java.util.HashMap` keyed by the lowerCamel member names (bucket by the
    /// spread `String.hashCode`, then insertion order), which matches the order of
    /// violations observed from DynamoDB (e.g. `attributeType` before `attributeName`,
    /// `writeCapacityUnits` before `readCapacityUnits`).
    fn java_member_order(s: &Shape) -> Vec<usize> {
        let names: Vec<String> = s.members.keys().map(|m| lower_first(m)).collect();
        let mut cap = 16usize;
        while names.len() * 4 > cap * 3 {
            cap *= 2;
        }
        let bucket = |n: &str| {
            let mut h: u32 = 0;
            for u in n.encode_utf16() {
                h = h.wrapping_mul(31).wrapping_add(u32::from(u));
            }
            ((h ^ (h >> 16)) as usize) & (cap - 1)
        };
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by_key(|&i| (bucket(&names[i]), i));
        order
    }

    fn emit_enum(&self, out: &mut String, name: &str, s: &Shape) {
        let t = type_name(name);
        let values = s.enum_values.as_deref().unwrap_or(&[]);
        let set = self.enum_value_set(name, s);
        let mut used = HashSet::new();
        let variants: Vec<(String, &String)> = values
            .iter()
            .map(|v| {
                let mut n = variant(v);
                let mut k = 2;
                while !used.insert(n.clone()) {
                    n = format!("{}{k}", variant(v));
                    k += 1;
                }
                (n, v)
            })
            .collect();
        w!(out, "/// The `{name}` enum of the model.");
        w!(out, "#[derive(Debug, Clone, PartialEq, Eq, Hash)]");
        w!(out, "pub enum {t} {{");
        for (n, v) in &variants {
            w!(out, "    /// `{v}`");
            w!(out, "    {n},");
        }
        w!(
            out,
            "    /// A value the model does not list (rejected by validation on input)."
        );
        w!(out, "    Unknown(String),");
        w!(out, "}}");
        w!(out, "impl {t} {{");
        w!(out, "    /// Every value the model lists, in model order.");
        w!(
            out,
            "    pub const VALUES: &'static [&'static str] = &[{}];",
            values.iter().map(|v| lit(v)).collect::<Vec<_>>().join(", ")
        );
        w!(
            out,
            "    /// The value set as AWS prints it in validation messages."
        );
        w!(
            out,
            "    pub const VALUE_SET: &'static str = {};",
            lit(&format!("[{set}]"))
        );
        w!(out, "    pub fn as_str(&self) -> &str {{");
        w!(out, "        match self {{");
        for (n, v) in &variants {
            w!(out, "            Self::{n} => {},", lit(v));
        }
        w!(out, "            Self::Unknown(s) => s,");
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "    /// False for [`{t}::Unknown`].");
        w!(out, "    pub fn is_known(&self) -> bool {{");
        w!(out, "        !matches!(self, Self::Unknown(_))");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out, "impl From<&str> for {t} {{");
        w!(out, "    fn from(s: &str) -> Self {{");
        w!(out, "        match s {{");
        for (n, v) in &variants {
            w!(out, "            {} => Self::{n},", lit(v));
        }
        w!(
            out,
            "            other => Self::Unknown(other.to_string()),"
        );
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out, "impl From<String> for {t} {{");
        w!(out, "    fn from(s: String) -> Self {{");
        w!(out, "        match s.as_str() {{");
        for (n, v) in &variants {
            w!(out, "            {} => Self::{n},", lit(v));
        }
        w!(out, "            _ => Self::Unknown(s),");
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out, "impl Default for {t} {{");
        w!(
            out,
            "    /// Only a placeholder for an absent required member, which validation rejects."
        );
        w!(out, "    fn default() -> Self {{");
        w!(out, "        Self::Unknown(String::new())");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out, "impl std::fmt::Display for {t} {{");
        w!(
            out,
            "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{"
        );
        w!(out, "        f.write_str(self.as_str())");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out);
    }

    fn emit_struct(&self, out: &mut String, name: &str, s: &Shape) {
        let t = type_name(name);
        let what = if s.exception { "error" } else { "structure" };
        w!(out, "/// The `{name}` {what} of the model.");
        w!(out, "#[derive(Debug, Clone, PartialEq, Default)]");
        if s.members.is_empty() {
            w!(out, "pub struct {t} {{}}");
            w!(out);
            return;
        }
        w!(out, "pub struct {t} {{");
        for (mname, mr) in &s.members {
            let req = s.required.contains(mname);
            if req {
                w!(out, "    /// `{mname}` (required).");
            } else {
                w!(out, "    /// `{mname}`.");
            }
            w!(
                out,
                "    pub {}: {},",
                field(mname),
                self.field_type(name, mname, mr, req)
            );
        }
        w!(out, "}}");
        w!(out);
    }

    // ---------------------------------------------------------------- rules

    fn static_once(&mut self, key: &str, text: String) {
        if self.statics_done.insert(key.to_string()) {
            self.statics.push_str(&text);
        }
    }

    fn str_summary(&self, s: &Shape) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(max) = &s.max {
            parts.push(format!(
                "Member must have length less than or equal to {}",
                number_i64(max)
            ));
        }
        if let Some(min) = &s.min {
            parts.push(format!(
                "Member must have length greater than or equal to {}",
                number_i64(min)
            ));
        }
        if let Some(p) = &s.pattern {
            parts.push(format!(
                "Member must satisfy regular expression pattern: {p}"
            ));
        }
        parts
    }

    /// The static `StrRules` of a string shape, or `None` when it has no constraint.
    fn str_rules(&mut self, name: &str) -> Option<String> {
        let s = self.sh(name);
        if s.min.is_none() && s.max.is_none() && s.pattern.is_none() {
            return None;
        }
        let r = format!("R_{}", upper_snake(name));
        if self.statics_done.contains(&r) {
            return Some(r);
        }
        let mut text = String::new();
        let pat = match &s.pattern {
            Some(p) => {
                let pname = format!("P_{}", upper_snake(name));
                let translated = translate_pattern(p);
                if regex::Regex::new(&translated).is_ok()
                    || fancy_regex::Regex::new(&translated).is_ok()
                {
                    w!(text, "static {pname}: validate::Pattern = validate::Pattern {{ source: {}, regex: LazyLock::new(|| validate::compile({})) }};", lit(p), lit(&translated));
                } else {
                    self.skipped_patterns.push(p.clone());
                    w!(text, "/// The model's pattern uses Java regex features the `regex` crate lacks; not checked.");
                    w!(text, "static {pname}: validate::Pattern = validate::Pattern {{ source: {}, regex: LazyLock::new(|| None) }};", lit(p));
                }
                format!("Some(&{pname})")
            }
            None => "None".into(),
        };
        let opt = |n: &Option<serde_json::Number>| match n {
            Some(n) => format!("Some({})", number_i64(n)),
            None => "None".into(),
        };
        w!(
            text,
            "static {r}: validate::StrRules = validate::StrRules {{ min: {}, max: {}, pattern: {pat}, sensitive: {}, summary: {} }};",
            opt(&s.min),
            opt(&s.max),
            s.sensitive,
            lit(&format!("[{}]", self.str_summary(s).join(", ")))
        );
        self.static_once(&r, text);
        Some(r)
    }

    fn int_rules(&mut self, name: &str) -> Option<String> {
        let s = self.sh(name);
        if s.min.is_none() && s.max.is_none() {
            return None;
        }
        let r = format!("R_{}", upper_snake(name));
        let double = matches!(s.kind.as_str(), "double" | "float");
        let mut parts = Vec::new();
        let fmt = |n: &serde_json::Number| {
            if double {
                java_double(n)
            } else {
                number_i64(n).to_string()
            }
        };
        if let Some(max) = &s.max {
            parts.push(format!(
                "Member must have value less than or equal to {}",
                fmt(max)
            ));
        }
        if let Some(min) = &s.min {
            parts.push(format!(
                "Member must have value greater than or equal to {}",
                fmt(min)
            ));
        }
        let summary = lit(&format!("[{}]", parts.join(", ")));
        let text = if double {
            let opt = |n: &Option<serde_json::Number>| match n {
                Some(n) => format!(
                    "Some(({}_f64, {}))",
                    n.as_f64().unwrap_or(0.0),
                    lit(&java_double(n))
                ),
                None => "None".into(),
            };
            format!(
                "static {r}: validate::DoubleRules = validate::DoubleRules {{ min: {}, max: {}, summary: {summary} }};\n",
                opt(&s.min),
                opt(&s.max)
            )
        } else {
            let opt = |n: &Option<serde_json::Number>| match n {
                Some(n) => format!("Some({})", number_i64(n)),
                None => "None".into(),
            };
            format!(
                "static {r}: validate::IntRules = validate::IntRules {{ min: {}, max: {}, summary: {summary} }};\n",
                opt(&s.min),
                opt(&s.max)
            )
        };
        self.static_once(&r, text);
        Some(r)
    }

    fn len_rules(&mut self, name: &str) -> Option<String> {
        let s = self.sh(name);
        if s.min.is_none() && s.max.is_none() {
            return None;
        }
        let r = format!("L_{}", upper_snake(name));
        let mut parts = Vec::new();
        if let Some(max) = &s.max {
            parts.push(format!(
                "Member must have length less than or equal to {}",
                number_i64(max)
            ));
        }
        if let Some(min) = &s.min {
            parts.push(format!(
                "Member must have length greater than or equal to {}",
                number_i64(min)
            ));
        }
        let opt = |n: &Option<serde_json::Number>| match n {
            Some(n) => format!("Some({})", number_i64(n)),
            None => "None".into(),
        };
        let text = format!(
            "static {r}: validate::LenRules = validate::LenRules {{ min: {}, max: {}, summary: {} }};\n",
            opt(&s.min),
            opt(&s.max),
            lit(&format!("[{}]", parts.join(", ")))
        );
        self.static_once(&r, text);
        Some(r)
    }

    // ---------------------------------------------------------------- decoding

    /// Code checking string `v` (a `&str` expression) of shape `name` at a member.
    fn str_check(&mut self, name: &str, v: &str) -> Option<String> {
        if let Some((checked, alt)) = self.spec.name_or_arn {
            if checked == name {
                let arn = self.str_rules(checked);
                let alt = self.str_rules(alt);
                let arn = arn.map_or(String::new(), |r| {
                    format!("validate::check_str_length_first(cx, &{r}, &{v});")
                });
                let alt = alt.map_or(String::new(), |r| {
                    format!("validate::check_str_length_first(cx, &{r}, &{v});")
                });
                return Some(format!(
                    "if {v}.starts_with(\"arn:\") {{ {arn} }} else {{ {alt} }}"
                ));
            }
        }
        self.str_rules(name)
            .map(|r| format!("validate::check_str(cx, &{r}, &{v});"))
    }

    /// (predicate on element `e: &T`, summary expression) for aggregated element checks.
    fn elem_ok(&mut self, name: &str, e: &str) -> Option<(String, String)> {
        let s = self.sh(name);
        match s.kind.as_str() {
            "string" if s.is_enum() => Some((
                format!("{e}.is_known()"),
                lit(&format!(
                    "[Member must satisfy enum value set: [{}]]",
                    self.enum_value_set(name, s)
                )),
            )),
            "string" => {
                if let Some((checked, alt)) = self.spec.name_or_arn {
                    if checked == name {
                        let arn = self.str_rules(checked)?;
                        let alt = self.str_rules(alt)?;
                        return Some((
                            format!("(if {e}.starts_with(\"arn:\") {{ validate::str_ok(&{arn}, {e}) }} else {{ validate::str_ok(&{alt}, {e}) }})"),
                            format!("{alt}.summary"),
                        ));
                    }
                }
                let r = self.str_rules(name)?;
                Some((
                    format!("validate::str_ok(&{r}, {e})"),
                    format!("{r}.summary"),
                ))
            }
            "integer" => {
                let r = self.int_rules(name)?;
                Some((
                    format!("validate::int_ok(&{r}, i64::from(*{e}))"),
                    format!("{r}.summary"),
                ))
            }
            "long" => {
                let r = self.int_rules(name)?;
                Some((
                    format!("validate::int_ok(&{r}, *{e})"),
                    format!("{r}.summary"),
                ))
            }
            "double" | "float" => {
                let r = self.int_rules(name)?;
                Some((
                    format!("validate::double_ok(&{r}, *{e})"),
                    format!("{r}.summary"),
                ))
            }
            "list" | "map" | "blob" => {
                let r = self.len_rules(name)?;
                Some((
                    format!("validate::len_ok(&{r}, {e}.len())"),
                    format!("{r}.summary"),
                ))
            }
            _ => None,
        }
    }

    /// An expression decoding input `x` as shape `name`; `check` adds the constraint
    /// checks of a member site.
    fn de_expr(&mut self, name: &str, x: &str, pos: &str, check: bool) -> String {
        let s = self.sh(name);
        match s.kind.as_str() {
            "structure" | "list" | "map" => format!("de_{}({x}, cx, Pos::{pos})?", snake(name)),
            "string" if s.is_enum() => {
                let t = type_name(name);
                if check {
                    format!("{{ let e = {t}::from({x}.string()?); validate::check_enum(cx, e.is_known(), e.as_str(), {t}::VALUE_SET); e }}")
                } else {
                    format!("{t}::from({x}.string()?)")
                }
            }
            "string" => match check.then(|| self.str_check(name, "s")).flatten() {
                Some(c) => format!("{{ let s = {x}.string()?; {c} s }}"),
                None => format!("{x}.string()?"),
            },
            "integer" => match check.then(|| self.int_rules(name)).flatten() {
                Some(r) => format!("{{ let n = {x}.integer()?; validate::check_int(cx, &{r}, i64::from(n)); n }}"),
                None => format!("{x}.integer()?"),
            },
            "long" => match check.then(|| self.int_rules(name)).flatten() {
                Some(r) => format!("{{ let n = {x}.long()?; validate::check_int(cx, &{r}, n); n }}"),
                None => format!("{x}.long()?"),
            },
            "double" | "float" => match check.then(|| self.int_rules(name)).flatten() {
                Some(r) => format!("{{ let n = {x}.double()?; validate::check_double(cx, &{r}, n); n }}"),
                None => format!("{x}.double()?"),
            },
            "blob" => match check.then(|| self.len_rules(name)).flatten() {
                Some(r) => format!("{{ let b = {x}.blob()?; let m = cx.mark(); validate::check_len(cx, m, &{r}, b.len(), |o| render::blob(o, &b)); b }}"),
                None => format!("{x}.blob()?"),
            },
            "boolean" => format!("{x}.boolean()?"),
            "timestamp" => format!("{x}.timestamp()?"),
            other => format!("{{ let _ = {x}; compile_error!(\"unsupported shape type {other}\") }}"),
        }
    }

    fn wire_name<'b>(&self, mname: &'b str, mr: &'b MemberRef) -> &'b str {
        mr.location_name.as_deref().unwrap_or(mname)
    }

    fn emit_de_struct(&mut self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        let validated = !self.unvalidated.contains(name);
        let class = lit(&format!("class {}.{}", self.spec.java_ns, name));
        w!(
            out,
            "fn de_{}<I: Input>(v: I, cx: &mut Cx, pos: Pos) -> Result<{t}, DeError> {{",
            snake(name)
        );
        if s.members.is_empty() {
            w!(out, "    let _ = v.structure(pos, {class})?;");
            w!(out, "    Ok({t}::default())");
            w!(out, "}}");
            return;
        }
        for i in 0..s.members.len() {
            w!(out, "    let mut f{i} = None;");
        }
        w!(out, "    for (k, x) in v.structure(pos, {class})? {{");
        w!(out, "        if x.is_null() {{ continue; }}");
        w!(out, "        match k.as_str() {{");
        for (i, (mname, mr)) in s.members.iter().enumerate() {
            w!(
                out,
                "            {} => f{i} = Some(x),",
                lit(self.wire_name(mname, mr))
            );
        }
        w!(out, "            _ => {{}}");
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "    let mut out = {t}::default();");
        self.emit_member_decodes(out, name, validated);
        w!(out, "    Ok(out)");
        w!(out, "}}");
    }

    /// Decodes and checks the members of structure `name` from the `f<i>: Option<_>`
    /// locals (one per member, in model order) into `out`, in AWS's check order.
    fn emit_member_decodes(&mut self, out: &mut String, name: &str, validated: bool) {
        let s = self.sh(name);
        let members: Vec<(&String, &MemberRef)> = s.members.iter().collect();
        for i in Self::java_member_order(s) {
            let (mname, mr) = members[i];
            let req = s.required.contains(mname);
            let f = field(mname);
            let mut expr = self.de_expr(&mr.shape, "x", "Member", validated);
            if self.boxed.contains(&(name.to_string(), mname.to_string())) {
                expr = format!("Box::new({expr})");
            }
            let path = lit(&lower_first(mname));
            match (validated, req) {
                (true, true) => {
                    w!(out, "    cx.enter({path});");
                    w!(out, "    match f{i} {{");
                    w!(out, "        Some(x) => out.{f} = {expr},");
                    w!(out, "        None => cx.missing(),");
                    w!(out, "    }}");
                    w!(out, "    cx.leave();");
                }
                (true, false) => {
                    w!(out, "    if let Some(x) = f{i} {{");
                    w!(out, "        cx.enter({path});");
                    w!(out, "        out.{f} = Some({expr});");
                    w!(out, "        cx.leave();");
                    w!(out, "    }}");
                }
                (false, true) => {
                    w!(out, "    if let Some(x) = f{i} {{ out.{f} = {expr}; }}");
                }
                (false, false) => {
                    w!(
                        out,
                        "    if let Some(x) = f{i} {{ out.{f} = Some({expr}); }}"
                    );
                }
            }
        }
    }

    fn is_container(&self, name: &str) -> bool {
        matches!(self.sh(name).kind.as_str(), "structure" | "list" | "map")
    }

    fn emit_de_list(&mut self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let elem = self.elem(s).clone();
        let validated = !self.unvalidated.contains(name);
        let flattened = s.flattened || elem.flattened.unwrap_or(false);
        let et = self.rust_type(&elem.shape);
        let container = self.is_container(&elem.shape);
        let ok = if validated {
            self.elem_ok(&elem.shape, "e")
        } else {
            None
        };
        let len = if validated {
            self.len_rules(name)
        } else {
            None
        };
        // Unvalidated elements (DynamoDB's AttributeValues) record nothing, so their path
        // is not tracked either.
        let descend = validated && container && !self.unvalidated.contains(&elem.shape);
        let uses_mark = ok.is_some() || len.is_some();
        w!(
            out,
            "fn de_{}<I: Input>(v: I, cx: &mut Cx, pos: Pos) -> Result<Vec<{et}>, DeError> {{",
            snake(name)
        );
        if uses_mark {
            w!(out, "    let mark = cx.mark();");
        }
        w!(out, "    let items = v.list(pos, {flattened})?;");
        w!(
            out,
            "    let mut out = Vec::with_capacity(items.size_hint().0);"
        );
        let expr = self.de_expr(&elem.shape, "x", "Element", false);
        if descend {
            w!(out, "    for (i, x) in items.enumerate() {{");
            w!(out, "        if x.is_null() {{ continue; }}");
            w!(out, "        cx.enter_index(i);");
            w!(out, "        let e = {expr};");
            w!(out, "        cx.leave();");
            w!(out, "        out.push(e);");
        } else {
            w!(out, "    for x in items {{");
            w!(out, "        if x.is_null() {{ continue; }}");
            w!(out, "        out.push({expr});");
        }
        w!(out, "    }}");
        let render = format!("|o| {}", self.render_expr(name, "&out", "o", 0));
        if let Some((pred, summary)) = ok {
            w!(out, "    if out.iter().any(|e| !{pred}) {{");
            w!(out, "        validate::elements_violation(cx, mark, validate::ElemKind::ListMember, {summary}, {render});");
            w!(out, "    }}");
        }
        if let Some(r) = len {
            w!(out, "    if pos != Pos::Element {{");
            w!(
                out,
                "        validate::check_len(cx, mark, &{r}, out.len(), {render});"
            );
            w!(out, "    }}");
        }
        w!(out, "    Ok(out)");
        w!(out, "}}");
    }

    fn emit_de_map(&mut self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let key = s
            .key
            .clone()
            .unwrap_or_else(|| unreachable_member().clone());
        let val = self.val(s).clone();
        let validated = !self.unvalidated.contains(name);
        let vt = self.rust_type(&val.shape);
        let container = self.is_container(&val.shape);
        let class = lit(&format!(
            "java.util.Map<java.lang.String, {}>",
            self.java_type(&val.shape)
        ));
        let key_ok = if validated {
            self.elem_ok(&key.shape, "k")
        } else {
            None
        };
        // Map keys stay `String`s even when the key shape is an enum (Lambda's
        // `Endpoints`); check them against the value list instead of `is_known`.
        let key_ok = match key_ok {
            Some((_, summary)) if self.sh(&key.shape).is_enum() => Some((
                format!("{}::VALUES.contains(&k.as_str())", type_name(&key.shape)),
                summary,
            )),
            other => other,
        };
        let val_ok = if validated {
            self.elem_ok(&val.shape, "e")
        } else {
            None
        };
        let len = if validated {
            self.len_rules(name)
        } else {
            None
        };
        // Unvalidated values (DynamoDB's AttributeValues) record nothing; skipping the path
        // also saves a key copy per item attribute.
        let descend = validated && container && !self.unvalidated.contains(&val.shape);
        let uses_mark = key_ok.is_some() || val_ok.is_some() || len.is_some();
        w!(out, "fn de_{}<I: Input>(v: I, cx: &mut Cx, pos: Pos) -> Result<HashMap<String, {vt}>, DeError> {{", snake(name));
        if uses_mark {
            w!(out, "    let mark = cx.mark();");
        }
        w!(
            out,
            "    let entries = v.map(pos, {class}, {})?;",
            s.flattened
        );
        w!(
            out,
            "    let mut out = HashMap::with_capacity(entries.size_hint().0);"
        );
        w!(out, "    for (k, x) in entries {{");
        w!(out, "        if x.is_null() {{ continue; }}");
        let expr = self.de_expr(&val.shape, "x", "Element", false);
        if descend {
            w!(out, "        cx.enter_key(&k);");
            w!(out, "        let e = {expr};");
            w!(out, "        cx.leave();");
            w!(out, "        out.insert(k, e);");
        } else {
            w!(out, "        out.insert(k, {expr});");
        }
        w!(out, "    }}");
        let render = format!("|o| {}", self.render_expr(name, "&out", "o", 0));
        if let Some((pred, summary)) = key_ok {
            w!(out, "    if out.keys().any(|k| !{pred}) {{");
            w!(out, "        validate::elements_violation(cx, mark, validate::ElemKind::MapKeys, {summary}, {render});");
            w!(out, "    }}");
        }
        if let Some((pred, summary)) = val_ok {
            w!(out, "    if out.values().any(|e| !{pred}) {{");
            w!(out, "        validate::elements_violation(cx, mark, validate::ElemKind::MapValues, {summary}, {render});");
            w!(out, "    }}");
        }
        if let Some(r) = len {
            w!(out, "    if pos != Pos::Element {{");
            w!(
                out,
                "        validate::check_len(cx, mark, &{r}, out.len(), {render});"
            );
            w!(out, "    }}");
        }
        w!(out, "    Ok(out)");
        w!(out, "}}");
    }

    // ---------------------------------------------------------------- rendering

    fn render_expr(&self, name: &str, e: &str, o: &str, d: usize) -> String {
        let s = self.sh(name);
        match s.kind.as_str() {
            "string" if s.is_enum() => format!("render::string({o}, {e}.as_str())"),
            "string" => format!("render::string({o}, {e})"),
            "integer" => format!("render::integer({o}, i64::from(*{e}))"),
            "long" => format!("render::integer({o}, *{e})"),
            "double" | "float" => format!("render::double({o}, *{e})"),
            "boolean" => format!("render::boolean({o}, *{e})"),
            "blob" => format!("render::blob({o}, {e})"),
            "timestamp" => format!("render::timestamp({o}, *{e})"),
            "list" => format!(
                "render::list({o}, {e}, |o{d}, e{d}| {})",
                self.render_expr(
                    &self.elem(s).shape,
                    &format!("e{d}"),
                    &format!("o{d}"),
                    d + 1
                )
            ),
            "map" => format!(
                "render::map({o}, {e}, |o{d}, e{d}| {})",
                self.render_expr(
                    &self.val(s).shape,
                    &format!("e{d}"),
                    &format!("o{d}"),
                    d + 1
                )
            ),
            "structure" => format!("render_{}({o}, {e})", snake(name)),
            _ => String::new(),
        }
    }

    fn emit_render_struct(&self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        let identity = self.spec.identity_render.contains(&name);
        let fname = if identity {
            format!("render_{}_fields", snake(name))
        } else {
            format!("render_{}", snake(name))
        };
        w!(out, "fn {fname}(o: &mut String, v: &{t}) {{");
        w!(out, "    render::begin_struct(o, {});", lit(name));
        for (i, (mname, mr)) in s.members.iter().enumerate() {
            let f = field(mname);
            w!(
                out,
                "    render::field(o, {}, {});",
                lit(&lower_first(mname)),
                i == 0
            );
            if s.required.contains(mname) && self.sh(&mr.shape).kind == "string" {
                // An absent required member decodes to its default; AWS echoes it as null.
                let text = if self.sh(&mr.shape).is_enum() {
                    format!("v.{f}.as_str()")
                } else {
                    format!("&v.{f}")
                };
                w!(out, "    render::required_string(o, {text});");
            } else if s.required.contains(mname) {
                w!(
                    out,
                    "    {};",
                    self.render_expr(&mr.shape, &format!("&v.{f}"), "o", 0)
                );
            } else {
                w!(
                    out,
                    "    render::optional(o, v.{f}.as_ref(), |o, x| {});",
                    self.render_expr(&mr.shape, "x", "o", 0)
                );
            }
        }
        w!(out, "    render::end_struct(o);");
        w!(out, "}}");
        if identity {
            w!(out, "fn render_{}(o: &mut String, v: &{t}) {{", snake(name));
            w!(out, "    let mut fields = String::new();");
            w!(out, "    {fname}(&mut fields, v);");
            w!(
                out,
                "    render::identity(o, {}, &fields);",
                lit(&format!("{}.{}", self.spec.java_ns, name))
            );
            w!(out, "}}");
        }
    }

    // ---------------------------------------------------------------- encoding

    fn json_expr(&self, name: &str, e: &str, d: usize) -> String {
        let s = self.sh(name);
        match s.kind.as_str() {
            "string" if s.is_enum() => format!("w.string({e}.as_str());"),
            "string" => format!("w.string({e});"),
            "integer" => format!("w.integer(i64::from(*{e}));"),
            "long" => format!("w.integer(*{e});"),
            "double" | "float" | "timestamp" => format!("w.double(*{e});"),
            "boolean" => format!("w.boolean(*{e});"),
            "blob" => format!("w.blob({e});"),
            "list" => format!(
                "w.begin_array(); for e{d} in ({e}).iter() {{ {} }} w.end_array();",
                self.json_expr(&self.elem(s).shape, &format!("e{d}"), d + 1)
            ),
            "map" => format!(
                "w.begin_object(); for (k{d}, e{d}) in ({e}).iter() {{ w.key(k{d}); {} }} w.end_object();",
                self.json_expr(&self.val(s).shape, &format!("e{d}"), d + 1)
            ),
            "structure" => format!("({e}).encode_json(w);"),
            _ => String::new(),
        }
    }

    fn emit_json_encode(&self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        let top = self.is_rest_top_output(name);
        w!(out, "impl JsonEncode for {t} {{");
        w!(out, "    fn encode_json(&self, w: &mut JsonWriter) {{");
        w!(out, "        w.begin_object();");
        for (mname, mr) in &s.members {
            if top && (mr.location.is_some() || s.payload.as_deref() == Some(mname.as_str())) {
                // Bound to a header, the status or the payload, not the JSON body.
                continue;
            }
            let f = field(mname);
            let key = lit(self.wire_name(mname, mr));
            if s.required.contains(mname) {
                w!(
                    out,
                    "        w.key({key}); {}",
                    self.json_expr(&mr.shape, &format!("&self.{f}"), 0)
                );
            } else {
                w!(
                    out,
                    "        if let Some(x) = &self.{f} {{ w.key({key}); {} }}",
                    self.json_expr(&mr.shape, "x", 0)
                );
            }
        }
        w!(out, "        w.end_object();");
        w!(out, "    }}");
        w!(out, "}}");
    }

    fn xml_expr(&self, name: &str, tag: &str, e: &str, flattened: bool, d: usize) -> String {
        let s = self.sh(name);
        let tagl = lit(tag);
        match s.kind.as_str() {
            "string" if s.is_enum() => format!("w.element({tagl}, {e}.as_str());"),
            "string" => format!("w.element({tagl}, {e});"),
            "integer" => format!("w.integer({tagl}, i64::from(*{e}));"),
            "long" => format!("w.integer({tagl}, *{e});"),
            "double" | "float" => format!("w.double({tagl}, *{e});"),
            "timestamp" => format!("w.timestamp({tagl}, *{e});"),
            "boolean" => format!("w.boolean({tagl}, *{e});"),
            "blob" => format!("w.blob({tagl}, {e});"),
            "structure" => format!("w.start({tagl}); ({e}).encode_xml(w); w.end({tagl});"),
            "list" => {
                let elem = self.elem(s);
                let flat = flattened || s.flattened;
                if flat {
                    let inner_tag = elem.location_name.as_deref().unwrap_or(tag);
                    format!(
                        "for e{d} in ({e}).iter() {{ {} }}",
                        self.xml_expr(&elem.shape, inner_tag, &format!("e{d}"), false, d + 1)
                    )
                } else {
                    let inner_tag = elem.location_name.as_deref().unwrap_or("member");
                    format!(
                        "w.start({tagl}); for e{d} in ({e}).iter() {{ {} }} w.end({tagl});",
                        self.xml_expr(&elem.shape, inner_tag, &format!("e{d}"), false, d + 1)
                    )
                }
            }
            "map" => {
                let v = self.val(s);
                let inner = format!(
                    "w.start(\"entry\"); w.element(\"key\", k{d}); {} w.end(\"entry\");",
                    self.xml_expr(&v.shape, "value", &format!("e{d}"), false, d + 1)
                );
                if flattened || s.flattened {
                    format!("for (k{d}, e{d}) in ({e}).iter() {{ {inner} }}")
                } else {
                    format!("w.start({tagl}); for (k{d}, e{d}) in ({e}).iter() {{ {inner} }} w.end({tagl});")
                }
            }
            _ => String::new(),
        }
    }

    fn emit_xml_encode(&self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        w!(out, "impl XmlEncode for {t} {{");
        if s.members.is_empty() {
            w!(out, "    fn encode_xml(&self, _w: &mut XmlWriter) {{}}");
            w!(out, "}}");
            return;
        }
        w!(out, "    fn encode_xml(&self, w: &mut XmlWriter) {{");
        for (mname, mr) in &s.members {
            let f = field(mname);
            let tag = self.wire_name(mname, mr);
            let flat = mr.flattened.unwrap_or(false);
            if s.required.contains(mname) {
                w!(
                    out,
                    "        {}",
                    self.xml_expr(&mr.shape, tag, &format!("&self.{f}"), flat, 0)
                );
            } else {
                w!(
                    out,
                    "        if let Some(x) = &self.{f} {{ {} }}",
                    self.xml_expr(&mr.shape, tag, "x", flat, 0)
                );
            }
        }
        w!(out, "    }}");
        w!(out, "}}");
    }

    // ---------------------------------------------------------------- service

    fn emit_operation_enum(&self, out: &mut String) {
        w!(out, "/// Every operation of the service.");
        w!(out, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]");
        w!(out, "pub enum Operation {{");
        for name in self.m.operations.keys() {
            w!(out, "    {},", type_name(name));
        }
        w!(out, "}}");
        w!(out, "impl Operation {{");
        w!(out, "    /// All operations, in model order.");
        w!(out, "    pub const ALL: &'static [Operation] = &[");
        for name in self.m.operations.keys() {
            w!(out, "        Operation::{},", type_name(name));
        }
        w!(out, "    ];");
        w!(out, "    /// The operation's wire name, e.g. `PutItem`.");
        w!(out, "    pub fn name(self) -> &'static str {{");
        w!(out, "        match self {{");
        for name in self.m.operations.keys() {
            w!(
                out,
                "            Operation::{} => {},",
                type_name(name),
                lit(name)
            );
        }
        w!(out, "        }}");
        w!(out, "    }}");
        w!(
            out,
            "    /// The HTTP method and request URI template the model binds the operation to"
        );
        w!(out, "    /// (what restJson/restXml routing matches on).");
        w!(
            out,
            "    pub fn http(self) -> (&'static str, &'static str) {{"
        );
        w!(out, "        match self {{");
        for (name, op) in &self.m.operations {
            w!(
                out,
                "            Operation::{} => ({}, {}),",
                type_name(name),
                lit(&op.http.method),
                lit(&op.http.request_uri)
            );
        }
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "    /// Looks an operation up by its wire name.");
        w!(
            out,
            "    pub fn from_name(name: &str) -> Option<Operation> {{"
        );
        w!(out, "        match name {{");
        for name in self.m.operations.keys() {
            w!(
                out,
                "            {} => Some(Operation::{}),",
                lit(name),
                type_name(name)
            );
        }
        w!(out, "            _ => None,");
        w!(out, "        }}");
        w!(out, "    }}");
        w!(out, "}}");
        w!(out);
    }

    fn op_types(&self, op: &crate::model::Operation) -> (Option<String>, Option<String>) {
        (
            op.input.as_ref().map(|r| type_name(&r.shape)),
            op.output.as_ref().map(|r| type_name(&r.shape)),
        )
    }

    fn emit_trait(&self, out: &mut String) {
        let tr = self.spec.trait_name;
        w!(
            out,
            "/// The {} API: one method per operation. Every method has a default that",
            self.m.metadata.service_id
        );
        w!(
            out,
            "/// answers AWS's way with `NotImplementedException`, so an implementation overrides"
        );
        w!(
            out,
            "/// what it supports and the defaults show what is left. Implement with `async fn`."
        );
        w!(out, "pub trait {tr}: Send + Sync + 'static {{");
        for (name, op) in &self.m.operations {
            let (i, o) = self.op_types(op);
            let out_t = o.unwrap_or_else(|| "()".into());
            let method = field(name);
            w!(out, "    /// `{name}`.");
            match &i {
                Some(i) => {
                    w!(out, "    fn {method}(&self, ctx: &RequestContext, input: {i}) -> impl Future<Output = Result<{out_t}, AwsError>> + Send {{");
                    w!(out, "        let _ = (ctx, input);");
                }
                None => {
                    w!(out, "    fn {method}(&self, ctx: &RequestContext) -> impl Future<Output = Result<{out_t}, AwsError>> + Send {{");
                    w!(out, "        let _ = ctx;");
                }
            }
            w!(
                out,
                "        std::future::ready(Err(runtime::not_implemented(&META, {})))",
                lit(name)
            );
            w!(out, "    }}");
        }
        w!(out, "}}");
        w!(out);
    }

    fn emit_json_dispatch(&self, out: &mut String) {
        let tr = self.spec.trait_name;
        w!(out, "/// The operation an awsJson request names in `X-Amz-Target` (`<prefix>.<Operation>`).");
        w!(
            out,
            "pub fn operation_from_request(req: &AwsRequest) -> Option<Operation> {{"
        );
        w!(
            out,
            "    let target = req.headers.get(\"x-amz-target\")?.to_str().ok()?;"
        );
        w!(out, "    let (prefix, name) = target.split_once('.')?;");
        w!(out, "    if prefix != META.target_prefix {{");
        w!(out, "        return None;");
        w!(out, "    }}");
        w!(out, "    Operation::from_name(name)");
        w!(out, "}}");
        w!(out);
        w!(
            out,
            "/// Decodes, validates, calls and encodes one request. Unknown targets get"
        );
        w!(
            out,
            "/// `UnknownOperationException`, bad JSON `SerializationException`, constraint"
        );
        w!(
            out,
            "/// violations `ValidationException`, exactly as AWS words them."
        );
        w!(out, "pub async fn dispatch<S: {tr}>(svc: &S, ctx: &RequestContext, req: &AwsRequest) -> AwsResponse {{");
        w!(out, "    let rid = ctx.request_id.as_str();");
        w!(
            out,
            "    let Some(op) = operation_from_request(req) else {{"
        );
        w!(out, "        return runtime::encode_error(META.protocol, &runtime::unknown_operation(), rid);");
        w!(out, "    }};");
        w!(out, "    match op {{");
        for (name, op) in &self.m.operations {
            let (i, _) = self.op_types(op);
            let method = field(name);
            let v = type_name(name);
            match i {
                Some(i) => {
                    w!(
                        out,
                        "        Operation::{v} => match json::decode_body::<{i}>(&req.body) {{"
                    );
                    w!(
                        out,
                        "            Ok(input) => match svc.{method}(ctx, input).await {{"
                    );
                    w!(
                        out,
                        "                Ok(out) => json::respond(&META, &out, rid),"
                    );
                    w!(
                        out,
                        "                Err(e) => META.error_response(&e, rid),"
                    );
                    w!(out, "            }},");
                    w!(out, "            Err(e) => META.error_response(&e, rid),");
                    w!(out, "        }},");
                }
                None => {
                    w!(
                        out,
                        "        Operation::{v} => match svc.{method}(ctx).await {{"
                    );
                    w!(
                        out,
                        "            Ok(out) => json::respond(&META, &out, rid),"
                    );
                    w!(out, "            Err(e) => META.error_response(&e, rid),");
                    w!(out, "        }},");
                }
            }
        }
        w!(out, "    }}");
        w!(out, "}}");
        w!(out);
    }

    fn emit_query_dispatch(&self, out: &mut String) {
        let tr = self.spec.trait_name;
        w!(
            out,
            "/// The operation a query request names in its `Action` parameter."
        );
        w!(
            out,
            "pub fn operation_from_params(params: &QueryValue) -> Result<Operation, AwsError> {{"
        );
        w!(
            out,
            "    let Some(action) = params.leaf(\"Action\") else {{"
        );
        w!(
            out,
            "        return Err(query::sender_error(\"MissingAction\", \"Missing Action\"));"
        );
        w!(out, "    }};");
        w!(out, "    Operation::from_name(action).ok_or_else(|| {{");
        w!(
            out,
            "        let version = params.leaf(\"Version\").unwrap_or(META.api_version);"
        );
        w!(out, "        query::sender_error(\"InvalidAction\", format!(\"Could not find operation {{action}} for version {{version}}\"))");
        w!(out, "    }})");
        w!(out, "}}");
        w!(out);
        w!(
            out,
            "/// Decodes, validates, calls and encodes one query-protocol request."
        );
        w!(out, "pub async fn dispatch<S: {tr}>(svc: &S, ctx: &RequestContext, req: &AwsRequest) -> AwsResponse {{");
        w!(out, "    let rid = ctx.request_id.as_str();");
        w!(out, "    let params = query::request_params(req);");
        w!(out, "    let op = match operation_from_params(&params) {{");
        w!(out, "        Ok(op) => op,");
        w!(
            out,
            "        Err(e) => return META.error_response(&e, rid),"
        );
        w!(out, "    }};");
        w!(out, "    match op {{");
        for (name, op) in &self.m.operations {
            let (i, o) = self.op_types(op);
            let method = field(name);
            let v = type_name(name);
            let wrapper = op
                .output
                .as_ref()
                .and_then(|r| r.result_wrapper.clone())
                .unwrap_or_else(|| format!("{name}Result"));
            let ok = if o.is_some() {
                format!(
                    "Ok(out) => query::respond(&META, {}, Some(({}, &out)), rid),",
                    lit(name),
                    lit(&wrapper)
                )
            } else {
                format!(
                    "Ok(()) => query::respond::<()>(&META, {}, None, rid),",
                    lit(name)
                )
            };
            match i {
                Some(i) => {
                    w!(
                        out,
                        "        Operation::{v} => match query::decode_params::<{i}>(params) {{"
                    );
                    w!(
                        out,
                        "            Ok(input) => match svc.{method}(ctx, input).await {{"
                    );
                    w!(out, "                {ok}");
                    w!(
                        out,
                        "                Err(e) => META.error_response(&e, rid),"
                    );
                    w!(out, "            }},");
                    w!(out, "            Err(e) => META.error_response(&e, rid),");
                    w!(out, "        }},");
                }
                None => {
                    w!(
                        out,
                        "        Operation::{v} => match svc.{method}(ctx).await {{"
                    );
                    w!(out, "            {ok}");
                    w!(out, "            Err(e) => META.error_response(&e, rid),");
                    w!(out, "        }},");
                }
            }
        }
        w!(out, "    }}");
        w!(out, "}}");
        w!(out);
    }

    fn emit_errors(&self, out: &mut String) {
        w!(
            out,
            "/// Constructors for the errors the model declares, with the code, HTTP status and"
        );
        w!(out, "/// fault AWS uses for each.");
        w!(out, "pub mod errors {{");
        w!(out, "    use nimbus_wire::AwsError;");
        for (name, s) in &self.m.shapes {
            if !s.exception {
                continue;
            }
            let info = s.error.as_ref();
            let code = info
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| name.clone());
            let status =
                info.and_then(|e| e.http_status_code)
                    .unwrap_or(if s.fault { 500 } else { 400 });
            let sender = info
                .and_then(|e| e.sender_fault)
                .unwrap_or(!s.fault && status < 500);
            w!(out, "    /// `{code}` (HTTP {status}).");
            w!(
                out,
                "    pub fn {}(message: impl Into<String>) -> AwsError {{",
                field(name)
            );
            w!(out, "        let mut e = AwsError::new(http::StatusCode::from_u16({status}).unwrap_or(http::StatusCode::BAD_REQUEST), {}, message);", lit(&code));
            w!(out, "        e.sender_fault = {sender};");
            w!(out, "        super::META.qualify(&e)");
            w!(out, "    }}");
        }
        w!(out, "}}");
        w!(out);
    }

    pub fn generate_code(&mut self, source: &str) -> Result<String> {
        let md = &self.m.metadata;
        let mut head = String::new();
        w!(
            head,
            "//! {} ({}): generated by tools/codegen from `{source}`; do not edit.",
            md.service_id,
            md.api_version
        );
        w!(head, "//!");
        w!(head, "//! Regenerate with `cargo run -p nimbus-codegen`.");
        w!(head, "#![allow(dead_code, unused_imports, unused_variables, unused_mut, clippy::all, clippy::pedantic)]");
        w!(head);
        w!(head, "use std::collections::HashMap;");
        w!(head, "use std::future::Future;");
        w!(head, "use std::sync::LazyLock;");
        w!(head);
        w!(head, "use nimbus_core::RequestContext;");
        w!(
            head,
            "use nimbus_wire::{{AwsError, AwsRequest, AwsResponse, Protocol}};"
        );
        w!(head);
        w!(head, "use crate::runtime::{{self, json, query, render, validate, Cx, DeError, Decode, Input, JsonEncode, JsonWriter, Pos, QueryValue, ServiceMeta, XmlEncode, XmlWriter}};");
        if self.proto == Proto::RestJson {
            w!(head, "use crate::runtime::rest_json;");
        }
        w!(head);
        let protocol = match (md.protocol.as_str(), md.json_version.as_deref()) {
            ("json", Some("1.1")) => "AwsJson11",
            ("json", _) => "AwsJson10",
            ("query", _) => "Query",
            ("rest-json", _) => "RestJson",
            ("rest-xml", _) => "RestXml",
            (other, _) => bail!("unsupported protocol {other}"),
        };
        w!(head, "/// Protocol facts of the service.");
        w!(head, "pub const META: ServiceMeta = ServiceMeta {{");
        w!(head, "    service_id: {},", lit(&md.service_id));
        w!(head, "    protocol: Protocol::{protocol},");
        w!(head, "    api_version: {},", lit(&md.api_version));
        w!(
            head,
            "    target_prefix: {},",
            lit(md.target_prefix.as_deref().unwrap_or(""))
        );
        w!(
            head,
            "    xml_namespace: {},",
            lit(md.xml_namespace.as_deref().unwrap_or(""))
        );
        match self.spec.error_prefix {
            Some(p) => w!(head, "    error_prefix: Some({}),", lit(p)),
            None => w!(head, "    error_prefix: None,"),
        }
        w!(head, "}};");
        w!(head);

        let mut types = String::new();
        let mut aliases = String::new();
        for (name, s) in &self.m.shapes {
            match s.kind.as_str() {
                "structure" => self.emit_struct(&mut types, name, s),
                "string" if s.is_enum() => self.emit_enum(&mut types, name, s),
                "list" | "map" => {
                    w!(aliases, "/// The `{name}` {} of the model.", s.kind);
                    w!(
                        aliases,
                        "pub type {} = {};",
                        type_name(name),
                        self.rust_type(name)
                    );
                }
                _ => {}
            }
        }

        let mut ops = String::new();
        self.emit_operation_enum(&mut ops);
        self.emit_trait(&mut ops);
        match self.proto {
            Proto::Json => self.emit_json_dispatch(&mut ops),
            Proto::Query => self.emit_query_dispatch(&mut ops),
            Proto::RestJson => self.emit_rest_dispatch(&mut ops),
            Proto::Other => w!(
                ops,
                "// Dispatch for the {} protocol is not generated yet.\n",
                md.protocol
            ),
        }
        self.emit_errors(&mut ops);
        if self.proto == Proto::RestJson {
            self.emit_rest_errors(&mut ops);
        }

        let mut codecs = String::new();
        let input: Vec<String> = self.input.iter().cloned().collect();
        let output: Vec<String> = self.output.iter().cloned().collect();
        let mut top_inputs = Vec::new();
        for op in self.m.operations.values() {
            if let Some(i) = &op.input {
                if !top_inputs.contains(&i.shape) {
                    top_inputs.push(i.shape.clone());
                }
            }
        }
        for name in &top_inputs {
            if self.proto == Proto::RestJson {
                self.emit_rest_decode(&mut codecs, name);
                continue;
            }
            w!(codecs, "impl Decode for {} {{", type_name(name));
            w!(
                codecs,
                "    fn decode<I: Input>(input: I, cx: &mut Cx) -> Result<Self, DeError> {{"
            );
            w!(codecs, "        de_{}(input, cx, Pos::Top)", snake(name));
            w!(codecs, "    }}");
            w!(codecs, "}}");
        }
        let nested = self.nested_shapes();
        for name in &input {
            if self.proto == Proto::RestJson && top_inputs.contains(name) && !nested.contains(name)
            {
                // Decoded by its `RestDecode` impl only.
                continue;
            }
            match self.sh(name).kind.as_str() {
                "structure" => {
                    self.emit_de_struct(&mut codecs, name);
                    self.emit_render_struct(&mut codecs, name);
                }
                "list" => self.emit_de_list(&mut codecs, name),
                "map" => self.emit_de_map(&mut codecs, name),
                _ => {}
            }
        }
        for name in &output {
            if self.sh(name).kind != "structure" {
                continue;
            }
            match self.proto {
                Proto::Json => self.emit_json_encode(&mut codecs, name),
                Proto::Query => self.emit_xml_encode(&mut codecs, name),
                Proto::RestJson => self.emit_json_encode(&mut codecs, name),
                Proto::Other => {}
            }
        }
        if self.proto == Proto::RestJson {
            let mut top_outputs = Vec::new();
            for op in self.m.operations.values() {
                if let Some(o) = &op.output {
                    if !top_outputs.contains(&o.shape) {
                        top_outputs.push(o.shape.clone());
                    }
                }
            }
            for name in &top_outputs {
                self.emit_rest_encode(&mut codecs, name);
            }
        }

        let mut all = head;
        all.push_str(
            "// ---------------------------------------------------------------- types\n\n",
        );
        all.push_str(&types);
        all.push_str(&aliases);
        all.push_str(
            "\n// ---------------------------------------------------------------- operations\n\n",
        );
        all.push_str(&ops);
        all.push_str(
            "// ---------------------------------------------------------------- constraints\n\n",
        );
        all.push_str(&self.statics);
        all.push_str(
            "\n// ---------------------------------------------------------------- codecs\n\n",
        );
        all.push_str(&codecs);
        Ok(all)
    }
}

fn unreachable_member() -> &'static MemberRef {
    static EMPTY: std::sync::OnceLock<MemberRef> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| MemberRef {
        shape: String::new(),
        location: None,
        location_name: None,
        flattened: None,
        timestamp_format: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patterns_translate() {
        assert_eq!(
            translate_pattern("[\\w+=,.@-]+"),
            "^(?:[0-9A-Za-z_+=,.@-]+)$"
        );
        assert_eq!(
            translate_pattern("\\u002F[\\u0021-\\u007F]*"),
            "^(?:\\x{002F}[\\x{0021}-\\x{007F}]*)$"
        );
        assert_eq!(translate_pattern("\\d{12}"), "^(?:[0-9]{12})$");
        assert!(regex::Regex::new(&translate_pattern("\\p{Print}+")).is_ok());
        let text = translate_pattern(
            "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*",
        );
        let re = regex::Regex::new(&text).unwrap();
        assert!(re.is_match("ok \u{1F600}\n"));
        assert!(!re.is_match("\u{1}"));
    }
}
