//! Parser and lowering tests: statements DynamoDB accepts, and the exact messages of
//! those it refuses.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::expr::{CmpOp, Condition, Operand, UpdateAction};
use crate::value::Value;

fn err(text: &str) -> String {
    match parse(text) {
        Ok(s) => panic!("{text} parsed: {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn select(text: &str) -> Select {
    match parse(text).unwrap() {
        Statement::Select(s) => s,
        other => panic!("not a select: {other:?}"),
    }
}

fn path(steps: &[&str]) -> PathExpr {
    PathExpr {
        steps: steps
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) => PathStep::Index(i),
                Err(_) => PathStep::Attr(s.to_string()),
            })
            .collect(),
    }
}

#[test]
fn selects_parse() {
    let s = select(r#"SELECT * FROM "Orders" WHERE OrderID = 100"#);
    assert_eq!(s.table, "Orders");
    assert_eq!(s.projection, Projection::Star);
    assert!(s.index.is_none());
    assert_eq!(
        s.where_,
        Some(Expr::Cmp(
            CmpOp::Eq,
            Box::new(Expr::Path(path(&["OrderID"]))),
            Box::new(Expr::Num("100".into()))
        ))
    );
    let s = select(
        r#"select a, m.k[1], "x y" from "t"."idx" where pk = ? and sk between 1 and 5 order by sk desc;"#,
    );
    assert_eq!(s.index.as_deref(), Some("idx"));
    assert_eq!(
        s.projection,
        Projection::Paths(vec![path(&["a"]), path(&["m", "k", "1"]), path(&["x y"])])
    );
    assert_eq!(s.order_by.len(), 1);
    assert!(s.order_by[0].descending);
    // Comments, nested literals, functions, IS, IN, NOT.
    let s = select(
        "SELECT * FROM t -- a comment\n WHERE /* inline */ begins_with(name, 'ab') AND x IS NOT MISSING \
         AND NOT y IN [1, 2, 3] AND size(l) > 2 AND z <> {'a': [1, <<'s'>>]} OR flag = true",
    );
    assert!(matches!(s.where_, Some(Expr::Or(..))));
}

#[test]
fn output_names_use_the_last_step() {
    assert_eq!(path(&["m", "k", "1"]).output_name(), "k[1]");
    assert_eq!(path(&["l", "0"]).output_name(), "l[0]");
    assert_eq!(path(&["a", "b"]).output_name(), "b");
    assert_eq!(path(&["a"]).output_name(), "a");
}

#[test]
fn writes_parse() {
    let st = parse(
        r#"INSERT INTO "t" VALUE {'pk': 'a', 'n': 1, 'l': [true, null], 'ss': <<'x', 'y'>>}"#,
    )
    .unwrap();
    assert!(matches!(st, Statement::Insert { ref table, .. } if table == "t"));
    let st = parse(
        r#"UPDATE "t" SET a = a + 1, b = list_append(b, [1]) SET c = set_add(c, <<'x'>>) REMOVE d, e[2] WHERE pk = 'a' RETURNING MODIFIED NEW *"#,
    )
    .unwrap();
    let Statement::Update(u) = st else { panic!() };
    assert_eq!(u.clauses.len(), 3);
    assert_eq!(u.returning, Some(Returning::ModifiedNew));
    let st = parse(r#"DELETE FROM "t" WHERE pk = 'a' AND sk = 1 RETURNING ALL OLD *"#).unwrap();
    assert!(matches!(
        st,
        Statement::Delete {
            returning: Some(Returning::AllOld),
            ..
        }
    ));
    let st = parse(r#"EXISTS(SELECT * FROM "t" WHERE pk = 'a' AND v = 1)"#).unwrap();
    assert!(matches!(st, Statement::Exists(_)));
}

#[test]
fn syntax_errors_have_aws_messages() {
    let nwf = MSG_NOT_WELL_FORMED;
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE pk = 1 foo"#),
        format!("{nwf}Unexpected token after expression")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE pk = 1)"#),
        format!("{nwf}Unexpected token after expression")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" ORDER BY pk WHERE pk = 1"#),
        format!("{nwf}Unexpected token after expression")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE"#),
        format!("{nwf}Unexpected term")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE ("#),
        format!("{nwf}Unexpected term")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE pk = 'a' AND"#),
        format!("{nwf}Missing right-hand side expression of infix operator")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE ORDER BY pk"#),
        format!("{nwf}Unexpected keyword")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE IS NULL"#),
        format!("{nwf}Unexpected operator")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" WHERE x IS FOO"#),
        format!("{nwf}Expected type name")
    );
    assert_eq!(
        err("DELETE FROM"),
        format!("{nwf}Expected identifier for simple path")
    );
    assert_eq!(err("SELECT * FROM"), format!("{nwf}Unexpected term"));
    assert_eq!(err(r#"SELECT * FROM "t" WHERE pk = 1 # x"#), nwf);
    assert_eq!(err(r#"SELECT * FROM "t" WHERE pk = 1 /* x"#), nwf);
    assert_eq!(err(r#"SELECT * FROM "t" WHERE pk = 'open"#), nwf);
    assert_eq!(err(""), format!("{nwf}Unexpected term"));
    assert_eq!(
        err(r#"SLECT * FROM "t""#),
        format!("{nwf}Expected data manipulation")
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" x WHERE pk = 'a'"#),
        "Aliasing is not supported"
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" AS x"#),
        "Aliasing is not supported"
    );
    assert_eq!(
        err(r#"UPDATE "t" x SET a = 1 WHERE pk = 'a'"#),
        "Aliasing is not supported"
    );
    assert_eq!(
        err(r#"SELECT * FROM "t" LIMIT 5"#),
        "Unsupported clause: LIMIT"
    );
    assert_eq!(
        err(r#"SELECT *, a FROM "t""#),
        "Other attributes should not be present in the projection when '*' is used."
    );
    assert_eq!(
        err(r#"INSERT INTO "t" VALUE {'pk': 'a'} RETURNING ALL NEW *"#),
        "RETURNING is not supported in INSERT"
    );
    assert_eq!(
        err(r#"INSERT INTO "t" VALUES {'pk': 'a'}"#),
        "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead"
    );
    assert_eq!(
        err(r#"UPDATE "t" SET a = 1 WHERE pk = 'a' RETURNING ALL NEW"#),
        "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause"
    );
}

#[test]
fn nesting_and_size_are_bounded() {
    let deep = format!(
        r#"SELECT * FROM "t" WHERE a = {}1{}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(
        err(&deep),
        format!("{MSG_NOT_WELL_FORMED}Expression nesting is too deep")
    );
    let nots = format!(r#"SELECT * FROM "t" WHERE {} a = 1"#, "NOT ".repeat(500));
    assert!(err(&nots).starts_with(MSG_NOT_WELL_FORMED));
    let long = format!(r#"SELECT * FROM "t" WHERE a = '{}'"#, "x".repeat(9000));
    assert!(err(&long).contains("8192"));
}

fn bind_where(text: &str, params: &[Value]) -> Result<Condition, String> {
    let st = parse(text).map_err(|e| e.to_string())?;
    let b = Binder::new(&st, params).map_err(|e| e.to_string())?;
    let Statement::Select(s) = &st else { panic!() };
    b.condition(s.where_.as_ref().unwrap())
        .map_err(|e| e.to_string())
}

#[test]
fn where_clauses_lower_onto_conditions() {
    let c = bind_where(
        r#"SELECT * FROM t WHERE a = ? AND b IS MISSING"#,
        &[Value::s("x")],
    )
    .unwrap();
    let Condition::And(l, r) = c else { panic!() };
    assert!(
        matches!(*l, Condition::Cmp(CmpOp::Eq, Operand::Path(_), Operand::Value(Value::S(ref s))) if s == "x")
    );
    assert!(matches!(*r, Condition::AttributeNotExists(_)));
    let c = bind_where(r#"SELECT * FROM t WHERE attribute_type(a, 'N')"#, &[]).unwrap();
    assert!(matches!(c, Condition::AttributeType(..)));
    // Too few parameters; extra ones are ignored.
    assert_eq!(
        bind_where(r#"SELECT * FROM t WHERE a = ? AND b = ?"#, &[Value::s("x")]).unwrap_err(),
        MSG_PARAMETER_COUNT
    );
    assert!(bind_where(
        r#"SELECT * FROM t WHERE a = ?"#,
        &[Value::s("x"), Value::s("y")]
    )
    .is_ok());
    assert_eq!(
        bind_where(r#"SELECT * FROM t WHERE a = MISSING"#, &[]).unwrap_err(),
        "MISSING must be compared using IS operator"
    );
    assert_eq!(
        bind_where(r#"SELECT * FROM t WHERE nope(a)"#, &[]).unwrap_err(),
        "Unrecognized function: nope"
    );
    assert_eq!(
        bind_where(r#"SELECT * FROM t WHERE a"#, &[]).unwrap_err(),
        "WHERE clause must contain an expression that resolves to a boolean"
    );
    assert_eq!(
        bind_where(r#"SELECT * FROM t WHERE a = 1e126"#, &[]).unwrap_err(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range under root"
    );
}

#[test]
fn values_and_updates_lower() {
    let st = parse(r#"INSERT INTO t VALUE {'pk': 'a', 'm': {'x': [1, 1e126]}}"#).unwrap();
    let Statement::Insert { value, .. } = &st else {
        panic!()
    };
    let b = Binder::new(&st, &[]).unwrap();
    assert_eq!(
        b.item(value).unwrap_err().to_string(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range under root.m.x[1]"
    );
    let st = parse(r#"INSERT INTO t VALUE {'pk': 'a', 'pk': 'b'}"#).unwrap();
    let Statement::Insert { value, .. } = &st else {
        panic!()
    };
    assert_eq!(
        Binder::new(&st, &[])
            .unwrap()
            .item(value)
            .unwrap_err()
            .to_string(),
        "Duplicate keys in tuple. Key: pk under root"
    );
    let st = parse(r#"INSERT INTO t VALUE {'pk': 'a', 's': <<'x', 1>>}"#).unwrap();
    let Statement::Insert { value, .. } = &st else {
        panic!()
    };
    assert!(Binder::new(&st, &[])
        .unwrap()
        .item(value)
        .unwrap_err()
        .to_string()
        .starts_with("Unsupported data type in Bag"));
    let st = parse(r#"INSERT INTO t VALUE ['pk']"#).unwrap();
    let Statement::Insert { value, .. } = &st else {
        panic!()
    };
    assert!(Binder::new(&st, &[])
        .unwrap()
        .item(value)
        .unwrap_err()
        .to_string()
        .starts_with("Unsupported format in item expression"));

    let st = parse(r#"UPDATE t SET n = n + ?, s = set_add(s, <<'x'>>) REMOVE old WHERE pk = 'a'"#)
        .unwrap();
    let Statement::Update(u) = &st else { panic!() };
    let up = Binder::new(&st, &[Value::n("2").unwrap()])
        .unwrap()
        .update(u)
        .unwrap();
    let actions: Vec<&UpdateAction> = up.actions().collect();
    assert!(matches!(
        actions[0],
        UpdateAction::Set(_, Operand::Arith { plus: true, .. })
    ));
    assert!(matches!(actions[1], UpdateAction::Add(_, Value::Ss(_))));
    assert!(matches!(actions[2], UpdateAction::Remove(_)));
    let st = parse(r#"UPDATE t SET s = set_add(x, <<'x'>>) WHERE pk = 'a'"#).unwrap();
    let Statement::Update(u) = &st else { panic!() };
    assert_eq!(
        Binder::new(&st, &[])
            .unwrap()
            .update(u)
            .unwrap_err()
            .to_string(),
        "The first argument to SET_ADD must equal the assignment value"
    );
    let st = parse(r#"UPDATE t SET a = 1 SET a = 2 WHERE pk = 'a'"#).unwrap();
    let Statement::Update(u) = &st else { panic!() };
    assert!(Binder::new(&st, &[])
        .unwrap()
        .update(u)
        .unwrap_err()
        .to_string()
        .starts_with("Two document paths overlap with each other"));
}

// Hostile input: the parser answers Ok or a ValidationException for anything, never
// panics or recurses without bound (statements come straight from requests).
mod hostile {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "SELECT",
        "INSERT",
        "INTO",
        "UPDATE",
        "DELETE",
        "FROM",
        "WHERE",
        "SET",
        "REMOVE",
        "VALUE",
        "RETURNING",
        "ALL",
        "NEW",
        "OLD",
        "MODIFIED",
        "*",
        "AND",
        "OR",
        "NOT",
        "IN",
        "BETWEEN",
        "IS",
        "MISSING",
        "NULL",
        "EXISTS",
        "ORDER",
        "BY",
        "\"t\"",
        "\"t\".\"i\"",
        "a",
        "a.b",
        "a[0]",
        "?",
        "'s'",
        "1",
        "-2.5e3",
        "true",
        "{",
        "}",
        "[",
        "]",
        "<<",
        ">>",
        "(",
        ")",
        ",",
        ":",
        "=",
        "<>",
        "<",
        ">=",
        "+",
        "-",
        ".",
        "begins_with",
        "size",
        "list_append",
        "set_add",
        "if_not_exists",
        "''''",
        "\"",
        "'",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_parses_or_fails_cleanly(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn token_soup_parses_or_fails_cleanly(idx in proptest::collection::vec(0..PIECES.len(), 0..40)) {
            let text: Vec<&str> = idx.iter().map(|i| PIECES[*i]).collect();
            let _ = parse(&text.join(" "));
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let open = "(".repeat(2000);
        let close = ")".repeat(2000);
        let text = format!("SELECT * FROM \"t\" WHERE {open}a = 1{close}");
        assert!(parse(&text).is_err());
        let list = format!(
            "INSERT INTO \"t\" VALUE {{'pk': {}1{}}}",
            "[".repeat(2000),
            "]".repeat(2000)
        );
        assert!(parse(&list).is_err());
    }
}
