//! The subset of the botocore `service-2.json` format the generator reads. Maps keep
//! the model's order (`IndexMap`), because member order decides field order, the order
//! of checks and so the order of reported violations.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Model {
    pub metadata: Metadata,
    pub operations: IndexMap<String, Operation>,
    pub shapes: IndexMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub endpoint_prefix: String,
    #[serde(default)]
    pub json_version: Option<String>,
    pub protocol: String,
    pub service_id: String,
    #[serde(default)]
    pub target_prefix: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Http {
    pub method: String,
    #[serde(rename = "requestUri")]
    pub request_uri: String,
    /// restJson/restXml: the status of a successful response (200 when absent).
    #[serde(default, rename = "responseCode")]
    pub response_code: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub http: Http,
    #[serde(default)]
    pub input: Option<OpRef>,
    #[serde(default)]
    pub output: Option<OpRef>,
    #[serde(default)]
    pub errors: Vec<OpRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpRef {
    pub shape: String,
    #[serde(default)]
    pub result_wrapper: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MemberRef {
    pub shape: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub flattened: Option<bool>,
    /// restJson/restXml member traits.
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub http_status_code: Option<u16>,
    #[serde(default)]
    pub sender_fault: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub members: IndexMap<String, MemberRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub member: Option<MemberRef>,
    #[serde(default)]
    pub key: Option<MemberRef>,
    #[serde(default)]
    pub value: Option<MemberRef>,
    #[serde(default)]
    pub min: Option<serde_json::Number>,
    #[serde(default)]
    pub max: Option<serde_json::Number>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    #[serde(default)]
    pub exception: bool,
    #[serde(default)]
    pub fault: bool,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub sensitive: bool,
    /// restJson/restXml: the member that is the whole body.
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

impl Shape {
    pub fn is_enum(&self) -> bool {
        self.kind == "string" && self.enum_values.is_some()
    }
}
