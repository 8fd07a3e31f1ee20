//! Where Lambda keeps its state in the store. Every key starts with `lambda/`; the second
//! segment names the family. `{acct}` is the 12-digit account, `{region}` the region;
//! function, alias and layer names are `[a-zA-Z0-9-_]` (the model's patterns), so `/`
//! never occurs inside a segment and plain `/` separators keep keys prefix-free.
//!
//! | family | key | value |
//! |---|---|---|
//! | `f`  | `lambda/f/{acct}/{region}/{function}` | [`crate::records::FunctionRecord`] (JSON): tags, concurrency, version counter and the `$LATEST` configuration |
//! | `v`  | `lambda/v/{acct}/{region}/{function}/{version:010}` | [`crate::records::VersionConfig`] (JSON): a published version (immutable) |
//! | `a`  | `lambda/a/{acct}/{region}/{function}/{alias}` | [`crate::records::AliasRecord`] (JSON) |
//! | `p`  | `lambda/p/{acct}/{region}/{function}/{qualifier or ~}` | [`crate::records::PolicyRecord`] (JSON): the resource policy of the function or of one version/alias |
//! | `e`  | `lambda/e/{acct}/{region}/{function}/{qualifier}` | [`crate::records::EventInvokeConfigRecord`] (JSON); unqualified = `$LATEST` |
//! | `u`  | `lambda/u/{acct}/{region}/{function}/{qualifier or ~}` | [`crate::records::UrlConfigRecord`] (JSON) |
//! | `ui` | `lambda/ui/{url id}` | [`crate::records::UrlIndex`] (JSON): which function a URL id belongs to |
//! | `l`  | `lambda/l/{acct}/{region}/{layer}/{version:010}` | [`crate::records::LayerVersionRecord`] (JSON) |
//! | `ln` | `lambda/ln/{acct}/{region}/{layer}` | the layer's last version number (u64 BE); never reused, as AWS |
//! | `cb` | `lambda/cb/{sha256 hex}` | [`crate::records::CodeBlob`] (JSON): a deployment package or layer zip in the blob store, with its reference count |
//! | `gc` | `lambda/gc/{blob id}` | the sha256 hex of an unreferenced blob; the reaper deletes it after the commit |
//! | `q`  | `lambda/q/{due ms:016}/{event id}` | [`crate::records::QueuedEvent`] (JSON): the async invoke queue, ordered by when each event is due |
//!
//! Version numbers are zero-padded so versions list in numeric order; the `$LATEST`
//! configuration lives in the function record, so one scan of `f` lists every function
//! with its configuration (ListFunctions).

pub const ROOT: &[u8] = b"lambda/";
pub const FUNCTION: &str = "lambda/f/";
pub const VERSION: &str = "lambda/v/";
pub const ALIAS: &str = "lambda/a/";
pub const POLICY: &str = "lambda/p/";
pub const EVENT_CONFIG: &str = "lambda/e/";
pub const URL_CONFIG: &str = "lambda/u/";
pub const URL_INDEX: &str = "lambda/ui/";
pub const LAYER: &str = "lambda/l/";
pub const LAYER_COUNTER: &str = "lambda/ln/";
pub const CODE_BLOB: &str = "lambda/cb/";
pub const GARBAGE: &str = "lambda/gc/";
pub const QUEUE: &str = "lambda/q/";

/// Marks "no qualifier" in the families keyed by an optional qualifier (`~` is outside
/// the qualifier alphabet).
pub const UNQUALIFIED: &str = "~";

pub fn function(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{FUNCTION}{acct}/{region}/{name}").into_bytes()
}

/// Prefix of every function of one account and region.
pub fn functions_prefix(acct: &str, region: &str) -> Vec<u8> {
    format!("{FUNCTION}{acct}/{region}/").into_bytes()
}

pub fn version(acct: &str, region: &str, name: &str, version: u64) -> Vec<u8> {
    format!("{VERSION}{acct}/{region}/{name}/{version:010}").into_bytes()
}

pub fn versions_prefix(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{VERSION}{acct}/{region}/{name}/").into_bytes()
}

pub fn alias(acct: &str, region: &str, name: &str, alias: &str) -> Vec<u8> {
    format!("{ALIAS}{acct}/{region}/{name}/{alias}").into_bytes()
}

pub fn aliases_prefix(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{ALIAS}{acct}/{region}/{name}/").into_bytes()
}

fn qual(q: Option<&str>) -> &str {
    q.unwrap_or(UNQUALIFIED)
}

pub fn policy(acct: &str, region: &str, name: &str, qualifier: Option<&str>) -> Vec<u8> {
    format!("{POLICY}{acct}/{region}/{name}/{}", qual(qualifier)).into_bytes()
}

pub fn policies_prefix(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{POLICY}{acct}/{region}/{name}/").into_bytes()
}

pub fn event_config(acct: &str, region: &str, name: &str, qualifier: &str) -> Vec<u8> {
    format!("{EVENT_CONFIG}{acct}/{region}/{name}/{qualifier}").into_bytes()
}

pub fn event_configs_prefix(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{EVENT_CONFIG}{acct}/{region}/{name}/").into_bytes()
}

pub fn url_config(acct: &str, region: &str, name: &str, qualifier: Option<&str>) -> Vec<u8> {
    format!("{URL_CONFIG}{acct}/{region}/{name}/{}", qual(qualifier)).into_bytes()
}

pub fn url_configs_prefix(acct: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{URL_CONFIG}{acct}/{region}/{name}/").into_bytes()
}

pub fn url_index(url_id: &str) -> Vec<u8> {
    format!("{URL_INDEX}{url_id}").into_bytes()
}

pub fn layer_version(acct: &str, region: &str, layer: &str, version: u64) -> Vec<u8> {
    format!("{LAYER}{acct}/{region}/{layer}/{version:010}").into_bytes()
}

pub fn layer_versions_prefix(acct: &str, region: &str, layer: &str) -> Vec<u8> {
    format!("{LAYER}{acct}/{region}/{layer}/").into_bytes()
}

pub fn layers_prefix(acct: &str, region: &str) -> Vec<u8> {
    format!("{LAYER}{acct}/{region}/").into_bytes()
}

pub fn layer_counter(acct: &str, region: &str, layer: &str) -> Vec<u8> {
    format!("{LAYER_COUNTER}{acct}/{region}/{layer}").into_bytes()
}

pub fn code_blob(sha256_hex: &str) -> Vec<u8> {
    format!("{CODE_BLOB}{sha256_hex}").into_bytes()
}

pub fn garbage(blob_id: &str) -> Vec<u8> {
    format!("{GARBAGE}{blob_id}").into_bytes()
}

pub fn queued(due_ms: i64, event_id: &str) -> Vec<u8> {
    format!("{QUEUE}{:016}/{event_id}", due_ms.max(0)).into_bytes()
}

/// The smallest key after every key starting with `prefix` (for range ends).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xFF);
    end
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically_and_queue_by_due_time() {
        assert!(version("1", "r", "f", 9) < version("1", "r", "f", 10));
        assert!(queued(999, "b") < queued(1000, "a"));
        // A function's key is not a prefix of another function's versions.
        assert!(!versions_prefix("1", "r", "f").starts_with(&versions_prefix("1", "r", "fa")));
        assert!(!version("1", "r", "fa", 1).starts_with(&versions_prefix("1", "r", "f")));
    }
}
