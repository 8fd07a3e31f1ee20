//! The restJson parts of a generated module: routes, the dispatcher, input binding from
//! labels/query/headers/body, output binding to headers/status/body, error specs.
//! The runtime half is `nimbus_model::runtime::rest_json`.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::{lit, Gen};
use crate::model::MemberRef;
use crate::names::{field, type_name};

macro_rules! w {
    ($dst:expr) => {{
        $dst.push('\n');
    }};
    ($dst:expr, $($arg:tt)*) => {{
        let _ = writeln!($dst, $($arg)*);
    }};
}

/// One parsed `requestUri` template.
struct Template {
    /// Rust source of the `&[rest_json::Seg]` slice.
    segments: Vec<String>,
    query: Vec<(String, Option<String>)>,
    literals: usize,
    greedy: bool,
}

fn parse_template(uri: &str) -> Template {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut segments = Vec::new();
    let mut literals = 0;
    let mut greedy = false;
    for seg in path.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
        if let Some(label) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(name) = label.strip_suffix('+') {
                greedy = true;
                segments.push(format!("rest_json::Seg::Greedy({})", lit(name)));
            } else {
                segments.push(format!("rest_json::Seg::Label({})", lit(label)));
            }
        } else {
            literals += 1;
            segments.push(format!("rest_json::Seg::Lit({})", lit(seg)));
        }
    }
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p.to_string(), None),
        })
        .collect();
    Template {
        segments,
        query,
        literals,
        greedy,
    }
}

impl Gen<'_> {
    /// True for the output shape of an operation of a rest protocol: its located members
    /// go to headers/status and its payload member is the body.
    pub(super) fn is_rest_top_output(&self, name: &str) -> bool {
        self.proto == super::Proto::RestJson
            && self
                .m
                .operations
                .values()
                .any(|op| op.output.as_ref().is_some_and(|o| o.shape == name))
    }

    /// Shapes referenced as a member, element or value of another shape.
    pub(super) fn nested_shapes(&self) -> HashSet<String> {
        let mut set = HashSet::new();
        for s in self.m.shapes.values() {
            for mr in s.members.values() {
                set.insert(mr.shape.clone());
            }
            for mr in [&s.member, &s.key, &s.value].into_iter().flatten() {
                set.insert(mr.shape.clone());
            }
        }
        set
    }

    pub(super) fn emit_rest_dispatch(&mut self, out: &mut String) {
        let tr = self.spec.trait_name;
        let rest = self.spec.rest.as_ref();
        let (code, prefix, blob_ct) = rest.map_or(
            ("SerializationException", "", "application/octet-stream"),
            |r| (r.bad_body_code, r.bad_body_prefix, r.blob_content_type),
        );
        w!(out, "/// How this service words rest-protocol errors.");
        w!(
            out,
            "pub static REST: rest_json::RestMeta = rest_json::RestMeta {{ bad_body_code: {}, bad_body_prefix: {}, blob_content_type: {} }};",
            lit(code),
            lit(prefix),
            lit(blob_ct)
        );
        w!(out);
        // Most specific first: fewer greedy labels, more literal segments, more query
        // literals (`GET /layers?find=LayerVersion` before `GET /layers`).
        let mut routes: Vec<(usize, Template, &str)> = self
            .m
            .operations
            .values()
            .enumerate()
            .map(|(i, op)| {
                (
                    i,
                    parse_template(&op.http.request_uri),
                    op.http.method.as_str(),
                )
            })
            .collect();
        routes.sort_by_key(|(i, t, _)| {
            (
                t.greedy,
                usize::MAX - t.literals,
                usize::MAX - t.query.len(),
                *i,
            )
        });
        w!(
            out,
            "/// The HTTP bindings of the operations, most specific first."
        );
        w!(out, "pub static ROUTES: &[rest_json::Route] = &[");
        for (i, t, method) in &routes {
            let q: Vec<String> = t
                .query
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("({}, Some({}))", lit(k), lit(v)),
                    None => format!("({}, None)", lit(k)),
                })
                .collect();
            w!(
                out,
                "    rest_json::Route {{ method: {}, segments: &[{}], query: &[{}], op: {i} }},",
                lit(method),
                t.segments.join(", "),
                q.join(", ")
            );
        }
        w!(out, "];");
        w!(out);
        w!(
            out,
            "/// The operation a request addresses (method + path + query literals) and its"
        );
        w!(
            out,
            "/// percent-decoded path labels; `None` when no operation matches."
        );
        w!(
            out,
            "pub fn route(req: &AwsRequest) -> Option<(Operation, Vec<(&'static str, String)>)> {{"
        );
        w!(out, "    let m = rest_json::match_route(ROUTES, req)?;");
        w!(out, "    Some((*Operation::ALL.get(m.op)?, m.labels))");
        w!(out, "}}");
        w!(out);
        w!(
            out,
            "/// The operation a request addresses, without decoding it (see [`route`])."
        );
        w!(
            out,
            "pub fn operation_from_request(req: &AwsRequest) -> Option<Operation> {{"
        );
        w!(out, "    route(req).map(|(op, _)| op)");
        w!(out, "}}");
        w!(out);
        w!(
            out,
            "/// Encodes an error of this service the restJson way (see [`rest_json::error_response`])."
        );
        w!(
            out,
            "pub fn error_response(err: &AwsError, request_id: &str) -> AwsResponse {{"
        );
        w!(
            out,
            "    rest_json::error_response(ERRORS, err, request_id)"
        );
        w!(out, "}}");
        w!(out);
        w!(
            out,
            "/// Routes, decodes, validates, calls and encodes one request. No route gives 404"
        );
        w!(
            out,
            "/// `UnknownOperationException`, constraint violations `ValidationException`."
        );
        w!(out, "pub async fn dispatch<S: {tr}>(svc: &S, ctx: &RequestContext, req: &AwsRequest) -> AwsResponse {{");
        w!(out, "    let rid = ctx.request_id.as_str();");
        w!(out, "    let Some((op, labels)) = route(req) else {{");
        w!(
            out,
            "        return error_response(&rest_json::unknown_operation(), rid);"
        );
        w!(out, "    }};");
        w!(out, "    match op {{");
        for (name, op) in &self.m.operations {
            let (i, _) = self.op_types(op);
            let method = field(name);
            let v = type_name(name);
            let status = op.http.response_code.unwrap_or(200);
            match i {
                Some(i) => {
                    w!(out, "        Operation::{v} => match rest_json::decode::<{i}>(&REST, req, labels) {{");
                    w!(
                        out,
                        "            Ok(input) => match svc.{method}(ctx, input).await {{"
                    );
                    w!(
                        out,
                        "                Ok(out) => rest_json::respond(&REST, &out, {status}, rid),"
                    );
                    w!(out, "                Err(e) => error_response(&e, rid),");
                    w!(out, "            }},");
                    w!(out, "            Err(e) => error_response(&e, rid),");
                    w!(out, "        }},");
                }
                None => {
                    w!(
                        out,
                        "        Operation::{v} => match svc.{method}(ctx).await {{"
                    );
                    w!(
                        out,
                        "            Ok(out) => rest_json::respond(&REST, &out, {status}, rid),"
                    );
                    w!(out, "            Err(e) => error_response(&e, rid),");
                    w!(out, "        }},");
                }
            }
        }
        w!(out, "    }}");
        w!(out, "}}");
        w!(out);
    }

    /// `ERRORS` and `From<ErrorShape> for AwsError`.
    pub(super) fn emit_rest_errors(&mut self, out: &mut String) {
        w!(
            out,
            "/// The wire form of each modeled error: message key and header-bound members."
        );
        w!(out, "pub static ERRORS: &[rest_json::ErrorSpec] = &[");
        for (name, s) in &self.m.shapes {
            if !s.exception {
                continue;
            }
            let code = s
                .error
                .as_ref()
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| name.clone());
            let message_key = s
                .members
                .iter()
                .find(|(m, _)| m.eq_ignore_ascii_case("message"))
                .map(|(m, mr)| self.wire_name(m, mr).to_string())
                .unwrap_or_else(|| "message".to_string());
            let headers: Vec<String> = s
                .members
                .iter()
                .filter(|(_, mr)| mr.location.as_deref() == Some("header"))
                .map(|(m, mr)| {
                    format!(
                        "({}, {})",
                        lit(m),
                        lit(mr.location_name.as_deref().unwrap_or(m))
                    )
                })
                .collect();
            w!(
                out,
                "    rest_json::ErrorSpec {{ code: {}, message_key: {}, headers: &[{}] }},",
                lit(&code),
                lit(&message_key),
                headers.join(", ")
            );
        }
        w!(out, "];");
        w!(out);
        for (name, s) in &self.m.shapes {
            if !s.exception {
                continue;
            }
            let t = type_name(name);
            w!(out, "impl From<{t}> for AwsError {{");
            w!(
                out,
                "    /// The error with every member set on the shape (extra members such as"
            );
            w!(
                out,
                "    /// `Reason` go to the body, header-bound ones to headers)."
            );
            w!(out, "    fn from(v: {t}) -> AwsError {{");
            w!(
                out,
                "        rest_json::error_from_shape(errors::{}(\"\"), &v)",
                field(name)
            );
            w!(out, "    }}");
            w!(out, "}}");
        }
        w!(out);
    }

    fn is_text_list(&self, shape: &str) -> bool {
        self.sh(shape).kind == "list"
    }

    /// `impl RestDecode` for an operation input structure.
    pub(super) fn emit_rest_decode(&mut self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        let validated = !self.unvalidated.contains(name);
        w!(out, "impl rest_json::RestDecode for {t} {{");
        w!(out, "    fn decode_rest(r: &mut rest_json::RestRequest<'_>, cx: &mut Cx) -> Result<Self, DeError> {{");
        if s.members.is_empty() {
            w!(out, "        let _ = (r, cx);");
            w!(out, "        Ok(Self::default())");
            w!(out, "    }}");
            w!(out, "}}");
            return;
        }
        let bound_query: Vec<String> = s
            .members
            .iter()
            .filter(|(_, mr)| mr.location.as_deref() == Some("querystring"))
            .filter(|(_, mr)| self.sh(&mr.shape).kind != "map")
            .map(|(m, mr)| lit(mr.location_name.as_deref().unwrap_or(m)))
            .collect();
        let members: Vec<(String, MemberRef)> = s
            .members
            .iter()
            .map(|(m, mr)| (m.clone(), mr.clone()))
            .collect();
        let payload = s.payload.clone();
        let mut body = Vec::new();
        for (i, (mname, mr)) in members.iter().enumerate() {
            let wire = lit(mr.location_name.as_deref().unwrap_or(mname));
            let kind = self.sh(&mr.shape).kind.clone();
            match mr.location.as_deref() {
                Some("uri") => w!(out, "        let f{i} = r.label({wire});"),
                Some("querystring") if kind == "map" => w!(
                    out,
                    "        let f{i} = r.query_map(&[{}]);",
                    bound_query.join(", ")
                ),
                Some("querystring") if self.is_text_list(&mr.shape) => {
                    w!(out, "        let f{i} = r.query_list({wire});")
                }
                Some("querystring") => w!(out, "        let f{i} = r.query({wire});"),
                Some("header") => w!(out, "        let f{i} = r.header({wire});"),
                Some("headers") => w!(out, "        let f{i} = r.header_map({wire});"),
                Some(_) => w!(out, "        let f{i}: Option<serde_json::Value> = None;"),
                None if payload.as_deref() == Some(mname.as_str()) => {
                    if kind == "blob" {
                        w!(out, "        let f{i} = r.raw_body();");
                    } else {
                        w!(out, "        let f{i} = r.body_value()?;");
                    }
                }
                None => {
                    w!(out, "        let mut f{i} = None;");
                    body.push((i, self.wire_name(mname, mr).to_string()));
                }
            }
        }
        if !body.is_empty() {
            w!(out, "        for (k, x) in r.body_fields()? {{");
            w!(out, "            if x.is_null() {{ continue; }}");
            w!(out, "            match k.as_str() {{");
            for (i, wire) in &body {
                w!(out, "                {} => f{i} = Some(x),", lit(wire));
            }
            w!(out, "                _ => {{}}");
            w!(out, "            }}");
            w!(out, "        }}");
        }
        w!(out, "        let mut out = Self::default();");
        let mut members_code = String::new();
        self.emit_member_decodes(&mut members_code, name, validated);
        for line in members_code.lines() {
            w!(out, "    {line}");
        }
        w!(out, "        Ok(out)");
        w!(out, "    }}");
        w!(out, "}}");
    }

    /// A statement writing output member `x` (a reference) to header `h`.
    fn header_stmt(&self, shape: &str, h: &str, x: &str) -> String {
        let s = self.sh(shape);
        let h = lit(h);
        match s.kind.as_str() {
            "string" if s.is_enum() => format!("o.header({h}, {x}.as_str());"),
            "string" => format!("o.header({h}, {x});"),
            "integer" => format!("o.header_int({h}, i64::from(*{x}));"),
            "long" => format!("o.header_int({h}, *{x});"),
            "boolean" => format!("o.header_bool({h}, *{x});"),
            "double" | "float" => format!("o.header_double({h}, *{x});"),
            "timestamp" => format!("o.header_timestamp({h}, *{x});"),
            "list" => format!(
                "o.header({h}, &{x}.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(\",\"));"
            ),
            _ => format!("let _ = {x};"),
        }
    }

    /// `impl RestEncode` for an operation output structure.
    pub(super) fn emit_rest_encode(&mut self, out: &mut String, name: &str) {
        let s = self.sh(name);
        let t = type_name(name);
        w!(out, "impl rest_json::RestEncode for {t} {{");
        w!(
            out,
            "    fn encode_rest(&self, meta: &rest_json::RestMeta, o: &mut rest_json::RestOut) {{"
        );
        w!(out, "        let _ = meta;");
        let mut has_body_members = false;
        for (mname, mr) in &s.members {
            let f = field(mname);
            let req = s.required.contains(mname);
            let stmt = match mr.location.as_deref() {
                Some("statusCode") => {
                    let kind = self.sh(&mr.shape).kind.as_str();
                    if kind == "integer" {
                        "o.status(i64::from(*x));".to_string()
                    } else {
                        "o.status(*x);".to_string()
                    }
                }
                Some("header") => {
                    self.header_stmt(&mr.shape, mr.location_name.as_deref().unwrap_or(mname), "x")
                }
                Some("headers") => format!(
                    "o.header_map({}, x);",
                    lit(mr.location_name.as_deref().unwrap_or(""))
                ),
                Some(_) => "let _ = x;".to_string(),
                None if s.payload.as_deref() == Some(mname.as_str()) => {
                    if self.sh(&mr.shape).kind == "blob" {
                        "o.blob_payload(meta, x);".to_string()
                    } else {
                        "o.json_body(x);".to_string()
                    }
                }
                None => {
                    has_body_members = true;
                    continue;
                }
            };
            if req {
                w!(out, "        {{ let x = &self.{f}; {stmt} }}");
            } else {
                w!(out, "        if let Some(x) = &self.{f} {{ {stmt} }}");
            }
        }
        if has_body_members && s.payload.is_none() {
            w!(out, "        o.json_body(self);");
        }
        w!(out, "    }}");
        w!(out, "}}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_literals_labels_and_query_literals() {
        let t =
            parse_template("/2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL");
        assert_eq!(
            t.segments,
            [
                "rest_json::Seg::Lit(\"2019-09-30\")",
                "rest_json::Seg::Lit(\"functions\")",
                "rest_json::Seg::Label(\"FunctionName\")",
                "rest_json::Seg::Lit(\"provisioned-concurrency\")",
            ]
        );
        assert_eq!(t.query, [("List".to_string(), Some("ALL".to_string()))]);
        assert_eq!(t.literals, 3);
        assert!(!t.greedy);
        let t = parse_template("/{Bucket}/{Key+}?uploads");
        assert!(t.greedy);
        assert_eq!(t.segments[1], "rest_json::Seg::Greedy(\"Key\")");
        assert_eq!(t.query, [("uploads".to_string(), None)]);
    }
}
