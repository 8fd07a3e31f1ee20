//! Turning model names into Rust names.

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];
/// Keywords that cannot be raw identifiers.
const RESERVED: &[&str] = &["self", "Self", "super", "crate"];

/// `SSESpecification` -> `sse_specification`, `OpenIDConnect` -> `open_id_connect`,
/// `S3Bucket` -> `s3_bucket`.
pub fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// A snake_case field or function name, escaped where it is a keyword.
pub fn field(name: &str) -> String {
    let s = snake(name);
    if RESERVED.contains(&s.as_str()) {
        format!("{s}_")
    } else if KEYWORDS.contains(&s.as_str()) {
        format!("r#{s}")
    } else {
        s
    }
}

/// `tagListType` -> `TagListType`.
pub fn type_name(shape: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in shape.chars() {
        if !c.is_ascii_alphanumeric() {
            upper = true;
            continue;
        }
        if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    if TAKEN_TYPES.contains(&out.as_str()) {
        // Lambda's durable-execution `Operation` shape would clash with the generated
        // `Operation` enum (and a shape named like an imported type would shadow it).
        out.push_str("Shape");
    }
    out
}

/// Type names a generated module defines or imports itself.
const TAKEN_TYPES: &[&str] = &[
    "Operation",
    "Result",
    "Option",
    "Box",
    "Vec",
    "String",
    "HashMap",
    "Future",
    "LazyLock",
    "AwsError",
    "AwsRequest",
    "AwsResponse",
    "Protocol",
    "RequestContext",
    "Cx",
    "DeError",
    "Decode",
    "Input",
    "Pos",
    "ServiceMeta",
    "JsonEncode",
    "JsonWriter",
    "QueryValue",
    "XmlEncode",
    "XmlWriter",
];

/// `TableName` -> `tableName`: how AWS names a member in validation paths.
pub fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// `NEW_AND_OLD_IMAGES` -> `NewAndOldImages`, `aws-managed` -> `AwsManaged`,
/// `Active` -> `Active`.
pub fn variant(value: &str) -> String {
    let mut out = String::new();
    for part in value.split(|c: char| !c.is_ascii_alphanumeric()) {
        if part.is_empty() {
            continue;
        }
        let all_upper = !part.chars().any(|c| c.is_ascii_lowercase());
        let mut chars = part.chars();
        if let Some(f) = chars.next() {
            out.push(f.to_ascii_uppercase());
            if all_upper {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            } else {
                out.extend(chars);
            }
        }
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Unknown" {
        out.push_str("Value");
    }
    out
}

/// `TableName` -> `TABLE_NAME` for statics.
pub fn upper_snake(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases() {
        assert_eq!(snake("PutItem"), "put_item");
        assert_eq!(snake("SSESpecification"), "sse_specification");
        assert_eq!(
            snake("CreateOpenIDConnectProvider"),
            "create_open_id_connect_provider"
        );
        assert_eq!(snake("ListMFADevices"), "list_mfa_devices");
        assert_eq!(snake("S3BucketSource"), "s3_bucket_source");
        assert_eq!(snake("NS"), "ns");
        assert_eq!(snake("KMSMasterKeyArn"), "kms_master_key_arn");
        assert_eq!(field("Type"), "r#type");
        assert_eq!(field("BOOL"), "bool");
    }

    #[test]
    fn variants() {
        assert_eq!(variant("NEW_AND_OLD_IMAGES"), "NewAndOldImages");
        assert_eq!(variant("aws-managed"), "AwsManaged");
        assert_eq!(variant("text/csv"), "TextCsv");
        assert_eq!(variant("Active"), "Active");
        assert_eq!(variant("AES256"), "Aes256");
    }
}
