"""The S3 website endpoint (`{bucket}.s3-website.localhost`, sent to 127.0.0.1 with a
Host header, so no DNS is needed) and CORS preflights/response headers, over raw HTTP."""

import http.client
import urllib.parse

import pytest

from helpers import expect_error


def send(endpoint, method, path, host=None, headers=None):
    u = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    conn.request(method, path, headers=h)
    r = conn.getresponse()
    body = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    conn.close()
    return out


def site_host(endpoint, bucket, form="plain"):
    port = urllib.parse.urlparse(endpoint).port
    if form == "dash":
        return f"{bucket}.s3-website-us-east-1.localhost:{port}"
    if form == "dot":
        return f"{bucket}.s3-website.us-east-1.localhost:{port}"
    return f"{bucket}.s3-website.localhost:{port}"


@pytest.fixture
def site(s3, bucket):
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="docs/index.html", Body=b"docs home",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="404.html", Body=b"custom not found",
                  ContentType="text/html")
    s3.put_object(Bucket=bucket, Key="style.css", Body=b"body{}", ContentType="text/css")
    s3.put_object(Bucket=bucket, Key="old-page", Body=b"",
                  WebsiteRedirectLocation="/index.html")
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "blog/"},
             "Redirect": {"ReplaceKeyPrefixWith": "posts/", "HttpRedirectCode": "302"}},
            {"Condition": {"HttpErrorCodeReturnedEquals": "404", "KeyPrefixEquals": "gone/"},
             "Redirect": {"HostName": "example.com", "Protocol": "https",
                          "ReplaceKeyWith": "moved.html"}},
        ]})
    return bucket


@pytest.mark.parametrize("form", ["plain", "dash", "dot"])
def test_index_document_on_every_host_form(endpoint, site, form):
    status, headers, body = send(endpoint, "GET", "/", site_host(endpoint, site, form))
    assert status == 200
    assert body == b"<h1>home</h1>"
    assert headers["content-type"] == "text/html"


def test_objects_subdirectories_and_head(endpoint, site):
    host = site_host(endpoint, site)
    status, headers, body = send(endpoint, "GET", "/style.css", host)
    assert (status, body, headers["content-type"]) == (200, b"body{}", "text/css")
    assert send(endpoint, "GET", "/docs/", host)[2] == b"docs home"
    status, headers, _ = send(endpoint, "GET", "/docs", host)
    assert status == 302 and headers["location"] == "/docs/"
    status, headers, body = send(endpoint, "HEAD", "/style.css", host)
    assert status == 200 and body == b"" and headers["content-length"] == "6"


def test_error_document_and_redirects(endpoint, site):
    host = site_host(endpoint, site)
    status, _, body = send(endpoint, "GET", "/nope.html", host)
    assert (status, body) == (404, b"custom not found")
    status, headers, _ = send(endpoint, "GET", "/old-page", host)
    assert status == 301 and headers["location"] == "/index.html"
    status, headers, _ = send(endpoint, "GET", "/blog/a.html", host)
    assert status == 302 and headers["location"] == f"http://{host}/posts/a.html"
    status, headers, _ = send(endpoint, "GET", "/gone/x", host)
    assert status == 301 and headers["location"] == "https://example.com/moved.html"
    status, _, body = send(endpoint, "POST", "/", host)
    assert status == 405
    assert b"MethodNotAllowed" in body


def test_html_errors_without_configuration(endpoint, s3, bucket):
    status, headers, body = send(endpoint, "GET", "/", site_host(endpoint, bucket))
    assert status == 404
    assert headers["content-type"].startswith("text/html")
    assert b"<li>Code: NoSuchWebsiteConfiguration</li>" in body
    status, _, body = send(endpoint, "GET", "/", site_host(endpoint, bucket + "-none"))
    assert status == 404 and b"<li>Code: NoSuchBucket</li>" in body
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    status, _, body = send(endpoint, "GET", "/missing", site_host(endpoint, bucket))
    assert status == 404 and b"<li>Code: NoSuchKey</li>" in body


def test_redirect_all_requests(endpoint, s3, bucket):
    s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "www.example.org", "Protocol": "https"}})
    status, headers, _ = send(endpoint, "GET", "/a/b.html", site_host(endpoint, bucket))
    assert status == 301 and headers["location"] == "https://www.example.org/a/b.html"


# --------------------------------------------------------------------------- CORS


CORS_RULES = [
    {"AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def preflight(endpoint, bucket, origin, method, req_headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return send(endpoint, "OPTIONS", f"/{bucket}/some/key", headers=h)


def test_preflight_allowed(endpoint, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    status, h, _ = preflight(endpoint, bucket, "https://app.example.com", "PUT",
                             "Content-Type, X-Amz-Date")
    assert status == 200
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"] == "content-type, x-amz-date"
    assert h["access-control-max-age"] == "600"
    assert h["access-control-expose-headers"] == "ETag"
    assert "Origin" in h["vary"]
    # The catch-all rule answers with `*`.
    status, h, _ = preflight(endpoint, bucket, "http://other.org", "GET")
    assert status == 200 and h["access-control-allow-origin"] == "*"


def test_preflight_refused(endpoint, s3, bucket):
    status, _, body = preflight(endpoint, bucket, "https://a.example.com", "GET")
    assert status == 403 and b"<Code>CORSResponse</Code>" in body
    assert b"CORS is not enabled for this bucket." in body
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    for origin, method, hdrs in [
        ("http://other.org", "PUT", None),
        ("https://a.example.com", "DELETE", None),
        ("https://a.example.com", "PUT", "authorization"),
    ]:
        status, _, body = preflight(endpoint, bucket, origin, method, hdrs)
        assert status == 403, (origin, method, hdrs)
        assert (b"This CORS request is not allowed. This is usually because the evalution of "
                b"Origin, request method / Access-Control-Request-Method or "
                b"Access-Control-Request-Headers are not whitelisted by the resource's CORS "
                b"spec.") in body


def test_cors_headers_on_ordinary_requests(endpoint, s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": CORS_RULES})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    u = urllib.parse.urlparse(url)
    status, h, body = send(endpoint, "GET", f"{u.path}?{u.query}",
                           headers={"Origin": "https://x.example.com"})
    assert status == 200 and body == b"v"
    assert h["access-control-allow-origin"] == "https://x.example.com"
    assert h["access-control-expose-headers"] == "ETag"
    status, h, _ = send(endpoint, "GET", f"{u.path}?{u.query}")
    assert "access-control-allow-origin" not in h


def test_put_bucket_cors_validation(s3, bucket):
    expect_error(s3.put_bucket_cors, "InvalidRequest", 400,
                 'AllowedOrigin "http://*.*.com" can not have more than one wildcard.',
                 Bucket=bucket, CORSConfiguration={"CORSRules": [
                     {"AllowedMethods": ["GET"], "AllowedOrigins": ["http://*.*.com"]}]})
