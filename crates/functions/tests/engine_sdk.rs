//! The one test that installs boto3 from PyPI (once per machine: the cache directory is
//! shared by every test run), then imports it from a handler that does not package it.
#![allow(clippy::unwrap_used)]

mod engine_common;

use std::sync::Arc;

use engine_common::*;

#[tokio::test]
async fn python_functions_get_boto3_without_packaging_it() {
    std::env::remove_var("NIMBUS_FUNCTION_SDK");
    let fx = fixture();
    let dir = code(
        &fx,
        "pyboto",
        &[(
            "app.py",
            "import boto3, os\ndef handler(event, context):\n    return {'boto3': boto3.__version__, 'file': boto3.__file__, 'endpoint': os.environ.get('AWS_ENDPOINT_URL')}\n",
        )],
    );
    let s = Arc::new(spec("pyboto", "python3.11", "app.handler", dir));
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(
        out.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&out.payload)
    );
    let v = json(&out.payload);
    assert_eq!(v["boto3"], "1.44.8");
    assert!(
        v["file"]
            .as_str()
            .unwrap()
            .starts_with(cache_dir().to_str().unwrap()),
        "{v}"
    );
    assert!(cache_dir()
        .join("python3.11/boto3-1.44.8/.complete")
        .exists());
    fx.engine.shutdown().await;
}
