//! Table-driven tests of expressions: text in, checked result or AWS message out.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::legacy::*;
use super::*;
use crate::keycodec::KeyType;
use crate::number::Number;
use crate::value::{Item, Map, Value};

fn n(s: &str) -> Value {
    Value::n(s).unwrap()
}

fn s(x: &str) -> Value {
    Value::s(x)
}

fn names() -> HashMap<String, String> {
    [
        ("#n", "name"),
        ("#s", "status"),
        ("#a", "a"),
        ("#dot", "x.y"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn values() -> HashMap<String, Value> {
    let mut m = HashMap::new();
    m.insert(":s".into(), s("x"));
    m.insert(":hello".into(), s("hello"));
    m.insert(":he".into(), s("he"));
    m.insert(":ell".into(), s("ell"));
    m.insert(":sa".into(), s("a"));
    m.insert(":empty".into(), s(""));
    m.insert(":n".into(), n("1"));
    m.insert(":one".into(), n("1"));
    m.insert(":n2".into(), n("2"));
    m.insert(":two".into(), n("2"));
    m.insert(":three".into(), n("3"));
    m.insert(":five".into(), n("5"));
    m.insert(":ten".into(), n("10"));
    m.insert(":zero".into(), n("0"));
    m.insert(":b".into(), Value::B(vec![1, 2]));
    m.insert(":l".into(), Value::L(vec![n("9")]));
    m.insert(":m".into(), Value::M(Map::new()));
    m.insert(":bool".into(), Value::Bool(true));
    m.insert(":null".into(), Value::Null);
    m.insert(":ss".into(), Value::Ss(vec!["c".into()]));
    m.insert(":ssa".into(), Value::Ss(vec!["a".into()]));
    m.insert(":ssab".into(), Value::Ss(vec!["a".into(), "b".into()]));
    m.insert(":ns".into(), Value::Ns(vec![Number::from_i64(7)]));
    m.insert(":bs".into(), Value::Bs(vec![vec![1]]));
    m.insert(":tS".into(), s("S"));
    m.insert(":tBOOL".into(), s("BOOL"));
    m.insert(":tL".into(), s("L"));
    m.insert(":bad".into(), s("XX"));
    m
}

fn item() -> Item {
    let mut inner = Map::new();
    inner.insert("c".into(), n("3"));
    let mut m = Map::new();
    m.insert("b".into(), Value::M(inner));
    let mut it = Item::new();
    it.insert("pk".into(), s("key"));
    it.insert("a".into(), s("hello"));
    it.insert("n".into(), n("5"));
    it.insert("l".into(), Value::L(vec![n("1"), s("x"), n("3")]));
    it.insert("m".into(), Value::M(m));
    it.insert("ss".into(), Value::Ss(vec!["a".into(), "b".into()]));
    it.insert(
        "ns".into(),
        Value::Ns(vec![Number::from_i64(1), Number::from_i64(2)]),
    );
    it.insert("bin".into(), Value::B(vec![1, 2, 3]));
    it.insert("t".into(), Value::Bool(true));
    it.insert("nul".into(), Value::Null);
    it.insert("name".into(), s("nm"));
    it
}

fn cond(kind: ExprKind, text: &str) -> Result<Condition, String> {
    let (nm, vl) = (names(), values());
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    ctx.condition(kind, text).map_err(|e| e.to_string())
}

fn cond_err(text: &str) -> String {
    cond(ExprKind::Condition, text).unwrap_err()
}

fn holds(text: &str) -> bool {
    cond(ExprKind::Condition, text).unwrap().evaluate(&item())
}

fn update(text: &str) -> Result<Update, String> {
    let (nm, vl) = (names(), values());
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    ctx.update(text).map_err(|e| e.to_string())
}

fn apply(text: &str) -> Result<Item, String> {
    update(text)?.apply(&item()).map_err(|e| e.to_string())
}

fn projection(text: &str) -> Result<Projection, String> {
    let nm = names();
    let mut ctx = ExpressionContext::new(Some(&nm), None);
    ctx.projection(text).map_err(|e| e.to_string())
}

#[test]
fn condition_errors() {
    let p = "Invalid ConditionExpression: ";
    let long_in = format!(
        "a IN ({})",
        (0..101).map(|_| ":s").collect::<Vec<_>>().join(", ")
    );
    let deep = format!("a{} = :s", ".b".repeat(32));
    let too_long = format!("a = :s{}", " ".repeat(4096));
    let cases: Vec<(&str, String)> = vec![
        ("", format!("{p}The expression can not be empty;")),
        ("  \n", format!("{p}The expression can not be empty;")),
        ("a = ", format!("{p}Syntax error; token: \"<EOF>\", near: \"= \"")),
        ("a = :s AND", format!("{p}Syntax error; token: \"<EOF>\", near: \"AND\"")),
        ("a = :s OR", format!("{p}Syntax error; token: \"<EOF>\", near: \"OR\"")),
        ("a b", format!("{p}Syntax error; token: \"b\", near: \"a b\"")),
        ("a = :s)", format!("{p}Syntax error; token: \")\", near: \":s)\"")),
        ("!!!", format!("{p}Syntax error; token: \"!\", near: \"!!\"")),
        ("a", format!("{p}Syntax error; token: \"<EOF>\", near: \"a\"")),
        ("a = :s AND AND b = :s", format!("{p}Syntax error; token: \"AND\", near: \"AND AND b\"")),
        ("a = 1", format!("{p}Syntax error; token: \"1\", near: \"= 1\"")),
        ("a.:s = :s", format!("{p}Syntax error; token: \":s\", near: \".:s =\"")),
        ("a[x] = :s", format!("{p}Syntax error; token: \"x\", near: \"[x]\"")),
        ("a = :s é", format!("{p}Syntax error; token: \"é\", near: \":s é\"")),
        ("status = :s", format!("{p}Attribute name is a reserved keyword; reserved keyword: status")),
        ("a.Name = :s", format!("{p}Attribute name is a reserved keyword; reserved keyword: Name")),
        ("a = :missing", format!("{p}An expression attribute value used in expression is not defined; attribute value: :missing")),
        ("#missing = :s", format!("{p}An expression attribute name used in the document path is not defined; attribute name: #missing")),
        ("foo(a)", format!("{p}Invalid function name; function: foo")),
        ("size(a)", format!("{p}The function is not allowed to be used this way in an expression; function: size")),
        ("begins_with(a, :s) = :bool", format!("{p}The function is not allowed to be used this way in an expression; function: begins_with")),
        ("if_not_exists(a, :s) = :s", format!("{p}The function is not allowed in a condition expression; function: if_not_exists")),
        ("attribute_exists(a, b)", format!("{p}Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2")),
        ("contains(a)", format!("{p}Incorrect number of operands for operator or function; operator or function: contains, number of operands: 1")),
        ("begins_with(a, :n)", format!("{p}Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")),
        ("a < :bool", format!("{p}Incorrect operand type for operator or function; operator or function: <, operand type: BOOL")),
        (":l >= a", format!("{p}Incorrect operand type for operator or function; operator or function: >=, operand type: L")),
        ("a BETWEEN :ss AND :ss", format!("{p}Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: SS")),
        ("size(:n) > :n", format!("{p}Incorrect operand type for operator or function; operator or function: size, operand type: N")),
        ("a = a", format!("{p}The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]")),
        ("#a <> a", format!("{p}The first operand must be distinct from the remaining operands for this operator or function; operator: <>, first operand: [a]")),
        ("a.b[1] IN (:s, a.b[1])", format!("{p}The first operand must be distinct from the remaining operands for this operator or function; operator: IN, first operand: [a, b, [1]]")),
        ("contains(a, a)", format!("{p}The first operand must be distinct from the remaining operands for this operator or function; operator: contains, first operand: [a]")),
        ("a BETWEEN :n AND :s", format!("{p}The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {{N:1}}, upper bound operand: AttributeValue: {{S:x}}")),
        ("a BETWEEN :n2 AND :n", format!("{p}The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{N:2}}, upper bound operand: AttributeValue: {{N:1}}")),
        ("((a = :s))", format!("{p}The expression has redundant parentheses;")),
        ("((a)) = :s", format!("{p}The expression has redundant parentheses;")),
        ("attribute_type(a, :bad)", format!("{p}Invalid attribute type name found; type: XX, valid types: {{N,BS,L,B,NULL,M,S,SS,NS,BOOL}}")),
        ("attribute_type(a, :n)", format!("{p}Incorrect operand type for operator or function; operator or function: attribute_type, operand type: N")),
        ("attribute_type(a, b)", format!("{p}Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {{SS,M,DECIMAL,DOUBLESET,HDS,N,B,DICT,INTSET,BOOL,HD,BS,INT,DECIMALSET,NULL,FLOAT,FS,S,L,NS,DOUBLE}}")),
        ("attribute_exists(:s)", format!("{p}Operator or function requires a document path; operator or function: attribute_exists")),
        ("a[99999999999] = :s", format!("{p}List index is not within the allowable range; index: [99999999999]")),
        ("a[2147483648] = :s", format!("{p}List index is not within the allowable range; index: [2147483648]")),
        (long_in.as_str(), format!("{p}The IN operator is provided with too many operands; number of operands: 101")),
        (deep.as_str(), format!("{p}The document path has too many nesting levels; nesting levels: 33")),
        (too_long.as_str(), format!("{p}Expression size has exceeded the maximum allowed size; expression size: 4102")),
        // Source order: the reserved word comes before the unknown function.
        ("a = :s AND status = :s AND foo(b)", format!("{p}Attribute name is a reserved keyword; reserved keyword: status")),
        // Pass 1 (functions) before pass 2 (placeholders).
        ("a = :missing AND foo(b)", format!("{p}Invalid function name; function: foo")),
    ];
    for (text, want) in cases {
        assert_eq!(cond_err(text), want, "expression: {text:?}");
    }
    // The label follows the parameter.
    assert_eq!(
        cond(ExprKind::Filter, "a =").unwrap_err(),
        "Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"=\""
    );
    assert_eq!(
        cond(ExprKind::KeyCondition, "").unwrap_err(),
        "Invalid KeyConditionExpression: The expression can not be empty;"
    );
}

#[test]
fn condition_parses() {
    for text in [
        "a = :s",
        "#s = :s",
        "(a = :s)",
        "(a) = :s",
        "NOT a = :s",
        "NOT (a = :s)",
        "NOT NOT a = :s",
        "a = :s and b = :s or c = :s",
        "a IN (:s)",
        "a in (:s, :n)",
        "a between :n AND :ten",
        "attribute_exists(a.b[0].c)",
        "size(a) > :n",
        "size(a) BETWEEN :n AND :ten",
        "(a = :s) AND (b = :s OR (c = :s))",
        "begins_with(a, :s) AND contains(b, :n)",
        "a.#dot = :s",
        "a[0] = :s",
        "\ta\n=\r:s ",
        "#a.b = a.#n",
        "x_1 = :s",
        "a < :s AND a <= :s AND a > :s AND a >= :s AND a <> :s",
    ] {
        assert!(
            cond(ExprKind::Condition, text).is_ok(),
            "{text}: {:?}",
            cond(ExprKind::Condition, text)
        );
    }
}

#[test]
fn precedence() {
    // AND binds tighter than OR; NOT tighter than AND.
    let c = cond(ExprKind::Condition, "a = :s OR b = :s AND c = :s").unwrap();
    assert!(matches!(c, Condition::Or(_, ref r) if matches!(**r, Condition::And(..))));
    let c = cond(ExprKind::Condition, "NOT a = :s AND b = :s").unwrap();
    assert!(matches!(c, Condition::And(ref l, _) if matches!(**l, Condition::Not(_))));
    let c = cond(ExprKind::Condition, "a = :s AND b = :s AND c = :s").unwrap();
    assert!(matches!(c, Condition::And(ref l, _) if matches!(**l, Condition::And(..))));
}

#[test]
fn placeholders_resolve() {
    let c = cond(ExprKind::Condition, "#n = :s AND m.#dot[2] = :n").unwrap();
    let mut paths = Vec::new();
    c.for_each_path(&mut |p| paths.push(p.to_string()));
    assert_eq!(paths, ["[name]", "[m, x.y, [2]]"]);
}

#[test]
fn evaluation() {
    let cases: &[(&str, bool)] = &[
        ("a = :hello", true),
        ("a = :s", false),
        ("a <> :s", true),
        ("absent <> :s", true),
        ("absent = :s", false),
        ("n > :one", true),
        ("n >= :five", true),
        ("n < :five", false),
        ("n < :s", false),
        ("a > :s", false),
        ("a < :s", true),
        ("n BETWEEN :one AND :ten", true),
        ("n BETWEEN :one AND :two", false),
        ("absent BETWEEN :one AND :two", false),
        ("begins_with(a, :he)", true),
        ("begins_with(a, :ell)", false),
        ("begins_with(n, :he)", false),
        ("contains(a, :ell)", true),
        ("contains(ss, :sa)", true),
        ("contains(ss, :s)", false),
        ("contains(ns, :two)", true),
        ("contains(l, :s)", true),
        ("contains(l, :three)", true),
        ("contains(l, :ten)", false),
        ("contains(n, :five)", false),
        ("size(a) = :five", true),
        ("size(l) = :three", true),
        ("size(m) = :one", true),
        ("size(ss) = :two", true),
        ("size(bin) = :three", true),
        ("size(n) = :one", false),
        ("size(absent) < :one", false),
        ("attribute_exists(a)", true),
        ("attribute_exists(m.b.c)", true),
        ("attribute_exists(m.b.d)", false),
        ("attribute_not_exists(absent)", true),
        ("attribute_not_exists(l[3])", true),
        ("attribute_exists(l[2])", true),
        ("attribute_type(t, :tBOOL)", true),
        ("attribute_type(l, :tL)", true),
        ("attribute_type(a, :tL)", false),
        ("attribute_type(absent, :tS)", false),
        ("m.b.c = :three", true),
        ("l[1] = :s", true),
        ("l[5] = :s", false),
        ("a.b = :s", false),
        ("#n = #n2", false),
        ("n IN (:one, :five)", true),
        ("n IN (:one, :two)", false),
        ("absent IN (:one)", false),
        ("a = :hello OR n = :zero AND n = :zero", true),
        ("(a = :hello OR n = :zero) AND n = :zero", false),
        ("NOT a = :hello", false),
        ("NOT absent = :s", true),
        ("nul = :null", true),
        ("t = :bool", true),
        ("ss = :ssab", true),
        (":one = :one", true),
        (":one < :two", true),
    ];
    let mut nm = names();
    nm.insert("#n2".into(), "nothing".into());
    let vl = values();
    for (text, want) in cases {
        let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
        let c = ctx.condition(ExprKind::Condition, text).unwrap();
        assert_eq!(c.evaluate(&item()), *want, "{text}");
    }
    // Against no item at all.
    assert!(holds("attribute_not_exists(absent)"));
    assert!(!holds("attribute_not_exists(a)"));
    assert!(!cond(ExprKind::Condition, "attribute_exists(a)")
        .unwrap()
        .evaluate(&Item::new()));
}

#[test]
fn number_comparison_is_numeric() {
    let mut vl = HashMap::new();
    vl.insert(":x".to_string(), n("5.0"));
    vl.insert(":y".to_string(), n("10"));
    let mut ctx = ExpressionContext::new(None, Some(&vl));
    let c = ctx
        .condition(ExprKind::Filter, "n = :x AND n < :y")
        .unwrap();
    assert!(c.evaluate(&item()));
}

#[test]
fn unused_placeholders() {
    let mut nm = HashMap::new();
    nm.insert("#a".to_string(), "a".to_string());
    nm.insert("#zz".to_string(), "z".to_string());
    let mut vl = HashMap::new();
    vl.insert(":v".to_string(), s("x"));
    vl.insert(":w".to_string(), s("x"));
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    ctx.condition(ExprKind::Condition, "b = :v").unwrap();
    // Listed in Java HashSet order: "#zz" hashes to bucket 3, "#a" to 14.
    assert_eq!(
        ctx.finish().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#zz, #a}"
    );
    // Usage spans the request's expressions.
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    ctx.condition(ExprKind::Condition, "#a = :v").unwrap();
    ctx.projection("#zz").unwrap();
    assert_eq!(
        ctx.finish().unwrap_err().to_string(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    );
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    ctx.update("SET #a = :v").unwrap();
    ctx.condition(ExprKind::Condition, "#zz <> :w").unwrap();
    assert!(ctx.finish().is_ok());
}

#[test]
fn attribute_map_validation() {
    let mut nm = HashMap::new();
    assert_eq!(
        validate_names_map(&nm).unwrap_err().to_string(),
        "ExpressionAttributeNames must not be empty"
    );
    nm.insert("a".to_string(), "x".to_string());
    assert_eq!(
        validate_names_map(&nm).unwrap_err().to_string(),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\""
    );
    nm.clear();
    nm.insert("#a".to_string(), String::new());
    assert_eq!(
        validate_names_map(&nm).unwrap_err().to_string(),
        "ExpressionAttributeNames contains invalid value: Empty attribute name for key #a"
    );
    assert_eq!(
        validate_values_map_keys([":a", "b"])
            .unwrap_err()
            .to_string(),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"b\""
    );
    assert_eq!(
        validate_values_map_keys([]).unwrap_err().to_string(),
        "ExpressionAttributeValues must not be empty"
    );
    assert!(validate_values_map_keys([":a_1"]).is_ok());
}

#[test]
fn update_errors() {
    let p = "Invalid UpdateExpression: ";
    let cases: Vec<(&str, String)> = vec![
        ("", format!("{p}The expression can not be empty;")),
        ("SET a", format!("{p}Syntax error; token: \"<EOF>\", near: \"a\"")),
        ("SET a =", format!("{p}Syntax error; token: \"<EOF>\", near: \"=\"")),
        ("SET a = :s,", format!("{p}Syntax error; token: \"<EOF>\", near: \",\"")),
        ("SET a = :s REMOVE", format!("{p}Syntax error; token: \"<EOF>\", near: \"REMOVE\"")),
        ("SET a = :s +", format!("{p}Syntax error; token: \"<EOF>\", near: \"+\"")),
        ("SET a = b / :s", format!("{p}Syntax error; token: \"/\", near: \"b / :s\"")),
        ("UPDATE a", format!("{p}Syntax error; token: \"UPDATE\", near: \"UPDATE a\"")),
        ("SET x", format!("{p}Syntax error; token: \"<EOF>\", near: \"x\"")),
        ("ADD a", format!("{p}Syntax error; token: \"<EOF>\", near: \"a\"")),
        ("ADD a b", format!("{p}Syntax error; token: \"b\", near: \"a b\"")),
        ("REMOVE a = :s", format!("{p}Syntax error; token: \"=\", near: \"a = :s\"")),
        ("SET status = :s", format!("{p}Attribute name is a reserved keyword; reserved keyword: status")),
        ("SET a = :s SET b = :s", format!("{p}The \"SET\" section can only be used once in an update expression;")),
        ("REMOVE a SET b = :s REMOVE c", format!("{p}The \"REMOVE\" section can only be used once in an update expression;")),
        ("SET a = :s, a.b = :s", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]")),
        ("SET a.b = :s REMOVE a", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]")),
        ("SET a = :s REMOVE #a", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")),
        ("SET a[0] = :s, a.b = :s", format!("{p}Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]")),
        ("SET #missing = :s", format!("{p}An expression attribute name used in the document path is not defined; attribute name: #missing")),
        ("SET a = :missing", format!("{p}An expression attribute value used in expression is not defined; attribute value: :missing")),
        // Actions are checked from the last back to the first.
        ("SET a = :missing1, b = :missing2", format!("{p}An expression attribute value used in expression is not defined; attribute value: :missing2")),
        ("SET a = #missing", format!("{p}An expression attribute name used in the document path is not defined; attribute name: #missing")),
        ("ADD a :s", format!("{p}Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND")),
        ("ADD a :l", format!("{p}Incorrect operand type for operator or function; operator: ADD, operand type: LIST, typeSet: ALLOWED_FOR_ADD_OPERAND")),
        ("DELETE a :n", format!("{p}Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND")),
        ("SET a = :s + :n", format!("{p}Incorrect operand type for operator or function; operator or function: +, operand type: S")),
        ("SET a = b - :bool", format!("{p}Incorrect operand type for operator or function; operator or function: -, operand type: BOOL")),
        ("SET a = size(b)", format!("{p}The function is not allowed in an update expression; function: size")),
        ("SET a = begins_with(b, :s)", format!("{p}The function is not allowed in an update expression; function: begins_with")),
        ("SET a = nope(b)", format!("{p}Invalid function name; function: nope")),
        ("SET a = list_append(:s, :l)", format!("{p}Incorrect operand type for operator or function; operator or function: list_append, operand type: S")),
        ("SET a = if_not_exists(:s, :s)", format!("{p}Operator or function requires a document path; operator or function: if_not_exists")),
        ("SET a = if_not_exists(a)", format!("{p}Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: 1")),
        ("SET a = if_not_exists(b, b)", format!("{p}The first operand must be distinct from the remaining operands for this operator or function; operator: if_not_exists, first operand: [b]")),
    ];
    for (text, want) in cases {
        assert_eq!(update(text).unwrap_err(), want, "expression: {text:?}");
    }
}

fn get<'i>(item: &'i Item, path: &str) -> Option<&'i Value> {
    let (nm, vl) = (names(), values());
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    let p = ctx.projection(path).unwrap();
    resolve_path(item, &p.paths()[0])
}

#[test]
fn update_application() {
    let out = apply("SET n = n + :one").unwrap();
    assert_eq!(out.get("n"), Some(&n("6")));
    let out = apply("SET n = n - :ten").unwrap();
    assert_eq!(out.get("n"), Some(&n("-5")));
    let out = apply("SET x = if_not_exists(x, :zero) + :one, n = if_not_exists(n, :zero)").unwrap();
    assert_eq!(out.get("x"), Some(&n("1")));
    assert_eq!(out.get("n"), Some(&n("5")));
    let out = apply("SET l[1] = :s").unwrap();
    assert_eq!(out.get("l"), Some(&Value::L(vec![n("1"), s("x"), n("3")])));
    let out = apply("SET l[10] = :hello, l[5] = :s").unwrap();
    assert_eq!(
        out.get("l"),
        Some(&Value::L(vec![n("1"), s("x"), n("3"), s("x"), s("hello")]))
    );
    let out = apply("REMOVE l[0], l[2]").unwrap();
    assert_eq!(out.get("l"), Some(&Value::L(vec![s("x")])));
    let out = apply("REMOVE l[7]").unwrap();
    assert_eq!(out.get("l"), item().get("l"));
    let out = apply("REMOVE l[0] SET l[1] = :hello").unwrap();
    assert_eq!(out.get("l"), Some(&Value::L(vec![s("hello"), n("3")])));
    let out = apply("SET l = list_append(l, :l)").unwrap();
    assert_eq!(
        out.get("l"),
        Some(&Value::L(vec![n("1"), s("x"), n("3"), n("9")]))
    );
    let out = apply("SET l = list_append(:l, l)").unwrap();
    assert_eq!(
        out.get("l").and_then(|l| match l {
            Value::L(l) => l.first(),
            _ => None,
        }),
        Some(&n("9"))
    );
    let out = apply("ADD n :one").unwrap();
    assert_eq!(out.get("n"), Some(&n("6")));
    let out = apply("ADD newn :five").unwrap();
    assert_eq!(out.get("newn"), Some(&n("5")));
    let out = apply("ADD ss :ss").unwrap();
    assert_eq!(
        out.get("ss"),
        Some(&Value::Ss(vec!["a".into(), "b".into(), "c".into()]))
    );
    let out = apply("ADD news :ss").unwrap();
    assert_eq!(out.get("news"), Some(&Value::Ss(vec!["c".into()])));
    let out = apply("DELETE ss :ssa").unwrap();
    assert_eq!(out.get("ss"), Some(&Value::Ss(vec!["b".into()])));
    let out = apply("DELETE ss :ssab").unwrap();
    assert_eq!(out.get("ss"), None, "an emptied set is removed");
    let out = apply("DELETE absent :ssab").unwrap();
    assert_eq!(out.get("absent"), None);
    let out = apply("REMOVE m.b.c").unwrap();
    assert_eq!(get(&out, "m.b"), Some(&Value::M(Map::new())));
    let out = apply("SET m.b.d = :s, m.e = :n").unwrap();
    assert_eq!(get(&out, "m.b.d"), Some(&s("x")));
    assert_eq!(get(&out, "m.b.c"), Some(&n("3")));
    assert_eq!(get(&out, "m.e"), Some(&n("1")));
    // Values come from the item as it was: a swap.
    let out = apply("SET a = n, n = a").unwrap();
    assert_eq!(out.get("a"), Some(&n("5")));
    assert_eq!(out.get("n"), Some(&s("hello")));
    let out = apply("REMOVE a, absent").unwrap();
    assert!(!out.contains_key("a"));
    let out = apply("SET #n = :s").unwrap();
    assert_eq!(out.get("name"), Some(&s("x")));
    // The input is untouched.
    assert_eq!(item().get("n"), Some(&n("5")));
}

#[test]
fn update_runtime_errors() {
    let cases = [
        ("SET m.y.z = :s", MSG_UPDATE_PATH),
        ("REMOVE m.y.z", MSG_UPDATE_PATH),
        ("SET n[0] = :s", MSG_UPDATE_PATH),
        ("SET a.b = :s", MSG_UPDATE_PATH),
        ("SET l.x = :s", MSG_UPDATE_PATH),
        ("SET q = absent", MSG_UPDATE_MISSING),
        ("SET q = absent + :one", MSG_UPDATE_MISSING),
        ("SET q = list_append(absent, :l)", MSG_UPDATE_MISSING),
        ("SET n = a + :one", MSG_UPDATE_TYPE),
        ("SET q = list_append(a, :l)", MSG_UPDATE_TYPE),
        ("ADD a :one", MSG_UPDATE_TYPE),
        ("ADD ss :ns", MSG_UPDATE_TYPE),
        ("ADD n :ss", MSG_UPDATE_TYPE),
        ("DELETE ss :ns", MSG_UPDATE_TYPE),
        ("DELETE a :ss", MSG_UPDATE_TYPE),
        // A type error anywhere comes before a absent attribute.
        ("SET q = absent, n = a + :one", MSG_UPDATE_TYPE),
        // Unwritable path (parent absent) before absent operand, clause by clause.
        ("SET q = absent, m.y.z = :s", MSG_UPDATE_PATH),
    ];
    for (text, want) in cases {
        assert_eq!(apply(text).unwrap_err(), want, "{text}");
    }
    let mut vl = values();
    vl.insert(
        ":big".into(),
        n("9.9999999999999999999999999999999999999e125"),
    );
    vl.insert(":tiny".into(), n("1e-100"));
    let nm = names();
    let mut ctx = ExpressionContext::new(Some(&nm), Some(&vl));
    let u = ctx.update("SET n = :big + :big").unwrap();
    assert_eq!(
        u.apply(&item()).unwrap_err().to_string(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    let u = ctx.update("ADD n :tiny").unwrap();
    assert_eq!(
        u.apply(&item()).unwrap_err().to_string(),
        "Attempting to store more than 38 significant digits in a Number"
    );
}

#[test]
fn update_targets() {
    let u = update("SET a = :s, m.b.c = :n REMOVE l[0] ADD n :one DELETE ss :ssa").unwrap();
    assert_eq!(u.top_level_targets(), ["a", "m", "l", "n", "ss"]);
    assert!(check_update_keys(&u, &["pk"]).is_ok());
    let u = update("SET #a = :s, pk = :s").unwrap();
    assert_eq!(
        check_update_keys(&u, &["pk", "sk"]).unwrap_err().to_string(),
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    );
    let u = update("SET m.b.c = :n").unwrap();
    let before = item();
    let after = u.apply(&before).unwrap();
    let proj = u.targets_projection();
    let old = proj.apply(&before);
    let new = proj.apply(&after);
    assert_eq!(old.len(), 1);
    assert_eq!(get(&old, "m.b.c"), Some(&n("3")));
    assert_eq!(get(&new, "m.b.c"), Some(&n("1")));
}

#[test]
fn projection_errors() {
    let p = "Invalid ProjectionExpression: ";
    let cases: Vec<(&str, String)> = vec![
        ("", format!("{p}The expression can not be empty;")),
        ("a,", format!("{p}Syntax error; token: \"<EOF>\", near: \",\"")),
        ("a b", format!("{p}Syntax error; token: \"b\", near: \"a b\"")),
        ("!!!", format!("{p}Syntax error; token: \"!\", near: \"!!\"")),
        ("status", format!("{p}Attribute name is a reserved keyword; reserved keyword: status")),
        ("#undef", format!("{p}An expression attribute name used in the document path is not defined; attribute name: #undef")),
        ("a, a", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")),
        ("a.b, a", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]")),
        ("#a, a", format!("{p}Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")),
        ("l[0], l.b", format!("{p}Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [l, [0]], path two: [l, b]")),
    ];
    for (text, want) in cases {
        assert_eq!(projection(text).unwrap_err(), want, "{text}");
    }
}

#[test]
fn projection_application() {
    let it = item();
    let out = projection("a, n, absent").unwrap().apply(&it);
    assert_eq!(out.len(), 2);
    assert_eq!(out.get("a"), Some(&s("hello")));
    let out = projection("m.b.c, l[2], l[0], l[9], #n")
        .unwrap()
        .apply(&it);
    assert_eq!(out.get("l"), Some(&Value::L(vec![n("1"), n("3")])));
    assert_eq!(get(&out, "m.b.c"), Some(&n("3")));
    assert_eq!(out.get("name"), Some(&s("nm")));
    assert_eq!(out.len(), 3);
    // Paths into the wrong type or absent elements give nothing.
    let out = projection("a.b, l[9], m.zz").unwrap().apply(&it);
    assert!(out.is_empty());
    let p = projection("a, m.b").unwrap();
    assert_eq!(p.top_level_names(), ["a", "m"]);
}

fn schema() -> KeySchema<'static> {
    KeySchema {
        partition: ("pk", KeyType::S),
        sort: Some(("sk", KeyType::N)),
    }
}

fn key_cond(text: &str) -> Result<KeyCondition, String> {
    let c = cond(ExprKind::KeyCondition, text)?;
    KeyCondition::from_condition(&c, &schema()).map_err(|e| e.to_string())
}

#[test]
fn key_conditions() {
    let k = key_cond("pk = :s").unwrap();
    assert_eq!(k.partition_value, s("x"));
    assert_eq!(k.sort, None);
    let k = key_cond("pk = :s AND sk BETWEEN :one AND :ten").unwrap();
    assert_eq!(
        k.sort,
        Some(("sk".into(), SortCondition::Between(n("1"), n("10"))))
    );
    let k = key_cond("sk > :one AND pk = :s").unwrap();
    assert_eq!(k.sort, Some(("sk".into(), SortCondition::Gt(n("1")))));
    let k = key_cond(":one < sk AND :s = pk").unwrap();
    assert_eq!(k.sort, Some(("sk".into(), SortCondition::Gt(n("1")))));
    let k = key_cond("(pk = :s) AND (sk <= :ten)").unwrap();
    assert_eq!(k.sort, Some(("sk".into(), SortCondition::Le(n("10")))));
    let mut it = Item::new();
    it.insert("pk".into(), s("x"));
    it.insert("sk".into(), n("10"));
    assert!(k.matches(&it));
    it.insert("sk".into(), n("11"));
    assert!(!k.matches(&it));

    let cases = [
        ("pk = :s OR sk = :one", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :s", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk IN (:s)", "Invalid operator used in KeyConditionExpression: IN"),
        ("pk <> :s", "Invalid operator used in KeyConditionExpression: <>"),
        ("attribute_exists(pk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("pk = :s AND contains(sk, :one)", "Invalid operator used in KeyConditionExpression: contains"),
        ("pk = :s AND size(sk) > :one", "KeyConditionExpressions cannot contain nested operations"),
        ("pk = :s AND pk = :s", "KeyConditionExpressions must only contain one condition per key"),
        ("sk = :one", "Query condition missed key schema element: pk"),
        ("extra = :s", "Query condition missed key schema element: pk"),
        ("pk = :s AND extra = :s", "Query condition missed key schema element: sk"),
        ("sk = :one AND extra = :s", "Query condition missed key schema element: pk"),
        ("pk > :s", "Query key condition not supported"),
        ("begins_with(pk, :s)", "Query key condition not supported"),
        ("pk = :one", "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        ("pk = :s AND sk = :s", "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        ("pk = :empty", "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
        ("pk.x = :s", "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"),
        ("pk = sk", "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"),
        (":s = :s", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("pk = :s AND :one BETWEEN sk AND :ten", "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand"),
    ];
    for (text, want) in cases {
        assert_eq!(key_cond(text).unwrap_err(), want, "{text}");
    }
    let s2 = KeySchema {
        partition: ("pk", KeyType::S),
        sort: Some(("sk", KeyType::S)),
    };
    let c = cond(ExprKind::KeyCondition, "pk = :s AND begins_with(sk, :he)").unwrap();
    let k = KeyCondition::from_condition(&c, &s2).unwrap();
    assert_eq!(
        k.sort,
        Some(("sk".into(), SortCondition::BeginsWith(s("he"))))
    );
    assert!(SortCondition::BeginsWith(s("he")).matches(&s("hello")));
    assert!(!SortCondition::BeginsWith(s("he")).matches(&s("h")));
    // Without a sort key, the missing element named is always the partition key.
    let hash_only = KeySchema {
        partition: ("pk", KeyType::S),
        sort: None,
    };
    for text in ["pk = :s AND sk = :one", "sk = :one"] {
        let c = cond(ExprKind::KeyCondition, text).unwrap();
        assert_eq!(
            KeyCondition::from_condition(&c, &hash_only)
                .unwrap_err()
                .to_string(),
            "Query condition missed key schema element: pk",
            "{text}"
        );
    }
}

#[test]
fn key_path_and_filter_checks() {
    let c = cond(ExprKind::Filter, "pk.a = :s").unwrap();
    let mut paths = Vec::new();
    c.for_each_path(&mut |p| paths.push(p.clone()));
    assert_eq!(
        check_key_paths(&paths, &["pk"]).unwrap_err().to_string(),
        "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"
    );
    let c = cond(ExprKind::Filter, "a = :s AND sk > :one").unwrap();
    assert_eq!(
        check_filter_has_no_keys(&c, &["pk", "sk"])
            .unwrap_err()
            .to_string(),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    );
    assert!(check_filter_has_no_keys(&c, &["pk"]).is_ok());
}

#[test]
fn reserved_words_via_placeholder_are_fine() {
    let c = cond(ExprKind::Condition, "#s = :s").unwrap();
    let mut it = Item::new();
    it.insert("status".into(), s("x"));
    assert!(c.evaluate(&it));
    assert!(is_reserved("STATUS"));
}

#[test]
fn hostile_nesting_is_bounded() {
    let deep = format!("{}a = :s{}", "(".repeat(1000), ")".repeat(1000));
    let err = cond_err(&deep);
    assert!(err.starts_with("Invalid ConditionExpression: "), "{err}");
    let nots = format!("{}a = :s", "NOT ".repeat(1000));
    assert!(cond(ExprKind::Condition, &nots).is_err());
    // Moderate nesting is fine.
    let ok = format!("{}a = :s{}", "(".repeat(50), ")".repeat(50));
    assert_eq!(
        cond_err(&ok),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    assert!(cond(ExprKind::Condition, &format!("{}a = :s", "NOT ".repeat(50))).is_ok());
}

// ---- legacy ----

#[test]
fn legacy_expected() {
    let ok = |e: &[(&str, ExpectedAttributeValue)], op| {
        expected_to_condition(e.iter().map(|(k, v)| (*k, v)), op)
    };
    let e = [(
        "a",
        ExpectedAttributeValue {
            value: Some(s("hello")),
            ..Default::default()
        },
    )];
    let c = ok(&e, ConditionalOperator::And).unwrap().unwrap();
    assert!(c.evaluate(&item()));
    let e = [(
        "a",
        ExpectedAttributeValue {
            exists: Some(false),
            ..Default::default()
        },
    )];
    assert!(!ok(&e, ConditionalOperator::And)
        .unwrap()
        .unwrap()
        .evaluate(&item()));
    let e = [
        (
            "a",
            ExpectedAttributeValue {
                exists: Some(false),
                ..Default::default()
            },
        ),
        (
            "n",
            ExpectedAttributeValue {
                comparison_operator: Some(ComparisonOperator::Gt),
                attribute_value_list: Some(vec![n("1")]),
                ..Default::default()
            },
        ),
    ];
    assert!(!ok(&e, ConditionalOperator::And)
        .unwrap()
        .unwrap()
        .evaluate(&item()));
    assert!(ok(&e, ConditionalOperator::Or)
        .unwrap()
        .unwrap()
        .evaluate(&item()));
    assert_eq!(ok(&[], ConditionalOperator::And).unwrap(), None);

    let p = "One or more parameter values were invalid: ";
    let cases: Vec<(ExpectedAttributeValue, String)> = vec![
        (Default::default(), format!("{p}Value must be provided when Exists is null for Attribute: a")),
        (ExpectedAttributeValue { exists: Some(true), ..Default::default() }, format!("{p}Value must be provided when Exists is true for Attribute: a")),
        (ExpectedAttributeValue { exists: Some(false), value: Some(s("x")), ..Default::default() }, format!("{p}Value cannot be used when Exists is false for Attribute: a")),
        (ExpectedAttributeValue { comparison_operator: Some(ComparisonOperator::Eq), ..Default::default() }, format!("{p}Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a")),
        (ExpectedAttributeValue { comparison_operator: Some(ComparisonOperator::Eq), exists: Some(true), ..Default::default() }, format!("{p}Exists and ComparisonOperator cannot be used together for Attribute: a")),
        (ExpectedAttributeValue { attribute_value_list: Some(vec![s("x")]), ..Default::default() }, format!("{p}AttributeValueList can only be used with a ComparisonOperator for Attribute: a")),
        (ExpectedAttributeValue { value: Some(s("x")), attribute_value_list: Some(vec![s("x")]), ..Default::default() }, format!("{p}Value and AttributeValueList cannot be used together for Attribute: a")),
        (ExpectedAttributeValue { comparison_operator: Some(ComparisonOperator::Null), value: Some(s("x")), ..Default::default() }, format!("{p}Invalid number of argument(s) for the NULL ComparisonOperator")),
        (ExpectedAttributeValue { comparison_operator: Some(ComparisonOperator::Between), attribute_value_list: Some(vec![n("2"), n("1")]), ..Default::default() }, "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound".to_string()),
    ];
    for (e, want) in cases {
        let dbg = format!("{e:?}");
        let got = expected_to_condition([("a", &e)], ConditionalOperator::And).unwrap_err();
        assert_eq!(got.to_string(), want, "{dbg}");
    }
}

fn lc(op: ComparisonOperator, list: Vec<Value>) -> LegacyCondition {
    LegacyCondition {
        comparison_operator: op,
        attribute_value_list: list,
    }
}

#[test]
fn legacy_filters() {
    use ComparisonOperator as C;
    let eval = |name: &str, c: LegacyCondition| {
        filter_to_condition([(name, &c)], ConditionalOperator::And)
            .unwrap()
            .unwrap()
            .evaluate(&item())
    };
    assert!(eval("n", lc(C::Eq, vec![n("5")])));
    assert!(eval("n", lc(C::Ne, vec![n("4")])));
    assert!(eval("absent", lc(C::Ne, vec![n("4")])));
    assert!(eval("n", lc(C::Le, vec![n("5")])));
    assert!(!eval("n", lc(C::Lt, vec![n("5")])));
    assert!(eval("n", lc(C::Ge, vec![n("5")])));
    assert!(!eval("n", lc(C::Gt, vec![n("5")])));
    assert!(eval("n", lc(C::NotNull, vec![])));
    assert!(eval("absent", lc(C::Null, vec![])));
    assert!(eval("ss", lc(C::Contains, vec![s("a")])));
    assert!(eval("ss", lc(C::NotContains, vec![s("z")])));
    assert!(eval("absent", lc(C::NotContains, vec![s("z")])));
    assert!(eval("a", lc(C::BeginsWith, vec![s("he")])));
    assert!(eval("n", lc(C::In, vec![n("1"), n("5")])));
    assert!(eval("n", lc(C::Between, vec![n("1"), n("5")])));
    assert!(eval(
        "m",
        lc(C::Eq, vec![item().get("m").cloned().unwrap()])
    ));

    let p = "One or more parameter values were invalid: ";
    let cases = [
        (lc(C::Eq, vec![]), format!("{p}Invalid number of argument(s) for the EQ ComparisonOperator")),
        (lc(C::Between, vec![n("1")]), format!("{p}Invalid number of argument(s) for the BETWEEN ComparisonOperator")),
        (lc(C::NotNull, vec![s("a")]), format!("{p}Invalid number of argument(s) for the NOT_NULL ComparisonOperator")),
        (lc(C::In, vec![]), format!("{p}Invalid number of argument(s) for the IN ComparisonOperator")),
        (lc(C::In, vec![s("a"), n("1")]), format!("{p}AttributeValues inside AttributeValueList must be of same type")),
        (lc(C::Lt, vec![Value::Bool(true)]), format!("{p}ComparisonOperator LT is not valid for BOOL AttributeValue type")),
        (lc(C::Contains, vec![Value::Ss(vec!["a".into()])]), format!("{p}ComparisonOperator CONTAINS is not valid for SS AttributeValue type")),
        (lc(C::BeginsWith, vec![n("1")]), format!("{p}ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")),
        (lc(C::Between, vec![n("5"), n("1")]), "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound".to_string()),
    ];
    for (c, want) in cases {
        let dbg = format!("{c:?}");
        let got = filter_to_condition([("a", &c)], ConditionalOperator::And).unwrap_err();
        assert_eq!(got.to_string(), want, "{dbg}");
    }
}

#[test]
fn legacy_key_conditions() {
    use ComparisonOperator as C;
    let run = |conds: Vec<(&str, LegacyCondition)>| {
        key_conditions_to_key_condition(conds.iter().map(|(k, v)| (*k, v)), &schema())
            .map_err(|e| e.to_string())
    };
    let k = run(vec![
        ("pk", lc(C::Eq, vec![s("x")])),
        ("sk", lc(C::Ge, vec![n("3")])),
    ])
    .unwrap();
    assert_eq!(k.partition_value, s("x"));
    assert_eq!(k.sort, Some(("sk".into(), SortCondition::Ge(n("3")))));
    let k = run(vec![("pk", lc(C::Eq, vec![s("x")]))]).unwrap();
    assert_eq!(k.sort, None);
    let cases = [
        (vec![("sk", lc(C::Eq, vec![n("1")]))], "Query condition missed key schema element: pk"),
        (vec![("pk", lc(C::Eq, vec![s("x")])), ("zz", lc(C::Eq, vec![n("1")]))], "Query condition missed key schema element: sk"),
        (vec![("pk", lc(C::Ne, vec![s("x")]))], "Attempted conditional constraint is not an indexable operation"),
        (vec![("pk", lc(C::Gt, vec![s("x")]))], "Query key condition not supported"),
        (vec![("pk", lc(C::Eq, vec![n("1")]))], "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        (vec![("pk", lc(C::Eq, vec![s("x")])), ("sk", lc(C::In, vec![n("1")]))], "Attempted conditional constraint is not an indexable operation"),
    ];
    for (conds, want) in cases {
        assert_eq!(run(conds).unwrap_err(), want);
    }
    let hash_only = KeySchema {
        partition: ("pk", KeyType::S),
        sort: None,
    };
    let conds = [
        ("pk", lc(C::Eq, vec![s("x")])),
        ("b", lc(C::Eq, vec![s("x")])),
    ];
    assert_eq!(
        key_conditions_to_key_condition(conds.iter().map(|(k, v)| (*k, v)), &hash_only)
            .unwrap_err()
            .to_string(),
        "Query key condition not supported"
    );
}

#[test]
fn legacy_attribute_updates() {
    let upd = |entries: Vec<(&str, AttributeValueUpdate)>| {
        attribute_updates_to_update(entries.iter().map(|(k, v)| (*k, v))).map_err(|e| e.to_string())
    };
    let put = |v: Value| AttributeValueUpdate {
        value: Some(v),
        action: Some(AttributeAction::Put),
    };
    let add = |v: Value| AttributeValueUpdate {
        value: Some(v),
        action: Some(AttributeAction::Add),
    };
    let del = |v: Option<Value>| AttributeValueUpdate {
        value: v,
        action: Some(AttributeAction::Delete),
    };
    let u = upd(vec![
        ("a", put(s("new"))),
        ("n", add(n("2"))),
        ("fresh", add(n("3"))),
        ("l", add(Value::L(vec![s("y")]))),
        ("ss", del(Some(Value::Ss(vec!["a".into()])))),
        ("t", del(None)),
    ])
    .unwrap();
    let out = u.apply(&item()).unwrap();
    assert_eq!(out.get("a"), Some(&s("new")));
    assert_eq!(out.get("n"), Some(&n("7")));
    assert_eq!(out.get("fresh"), Some(&n("3")));
    assert_eq!(
        out.get("l"),
        Some(&Value::L(vec![n("1"), s("x"), n("3"), s("y")]))
    );
    assert_eq!(out.get("ss"), Some(&Value::Ss(vec!["b".into()])));
    assert!(!out.contains_key("t"));
    let p = "One or more parameter values were invalid: ";
    let cases = [
        (
            vec![(
                "a",
                AttributeValueUpdate {
                    value: None,
                    action: None,
                },
            )],
            format!("{p}Only DELETE action is allowed when no attribute value is specified"),
        ),
        (
            vec![("a", del(Some(s("x"))))],
            format!("{p}DELETE action with value is not supported for the type S"),
        ),
        (
            vec![("a", add(s("x")))],
            format!("{p}ADD action is not supported for the type S"),
        ),
        (
            vec![("a", add(Value::Bool(true)))],
            format!("{p}ADD action is not supported for the type BOOL"),
        ),
    ];
    for (entries, want) in cases {
        assert_eq!(upd(entries).unwrap_err(), want);
    }
    let u = upd(vec![("a", add(n("1")))]).unwrap();
    assert_eq!(
        u.apply(&item()).unwrap_err().to_string(),
        "Type mismatch for attribute to update"
    );
}

#[test]
fn legacy_misc() {
    let p = attributes_to_get_projection(&["a".into(), "n".into()]).unwrap();
    assert_eq!(p.apply(&item()).len(), 2);
    assert_eq!(
        attributes_to_get_projection(&["a".into(), "a".into()])
            .unwrap_err()
            .to_string(),
        "One or more parameter values were invalid: Duplicate value in attribute name: a"
    );
    assert_eq!(
        check_expression_params(&["Expected"], &["ConditionExpression"]).unwrap_err().to_string(),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    assert!(check_expression_params(&[], &["ConditionExpression"]).is_ok());
    assert_eq!(
        check_placeholder_maps_allowed(&["ConditionExpression"], &[], true, false)
            .unwrap_err()
            .to_string(),
        "ExpressionAttributeNames can only be specified when using expressions"
    );
    assert_eq!(
        check_placeholder_maps_allowed(
            &["UpdateExpression", "ConditionExpression"],
            &[],
            false,
            true
        )
        .unwrap_err()
        .to_string(),
        "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
    );
    assert_eq!(
        check_placeholder_maps_allowed(&["FilterExpression"], &["ProjectionExpression"], true, true)
            .unwrap_err()
            .to_string(),
        "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null"
    );
    assert!(check_placeholder_maps_allowed(
        &["FilterExpression"],
        &["FilterExpression"],
        true,
        true
    )
    .is_ok());
    assert_eq!(
        ComparisonOperator::parse("NOT_CONTAINS"),
        Some(ComparisonOperator::NotContains)
    );
    assert_eq!(ComparisonOperator::parse("nope"), None);
}
