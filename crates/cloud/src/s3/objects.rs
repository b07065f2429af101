//! Object operations: put, get/head (ranges, conditions), copy, delete, multi-delete,
//! listings (v1 and v2), object tagging.

use hyper::{Response, StatusCode};
use porteiro_iam::Value;

use super::body::{self, FileBody, Sink};
use super::store::{ObjectMeta, Sse};
use super::{Ctx, MAX_OBJECT, S3Error, doc, empty, enc, set_header, xml, xml_in};
use crate::model::Bucket;
use crate::server::ResponseBody;

type Reply = Result<Response<ResponseBody>, S3Error>;

/// Standard headers stored with an object and returned on GET/HEAD.
const STORED_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

/// Removes a temp file when dropped (a no-op once it was renamed into place).
pub(crate) struct TempFile(pub std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

fn check_key(key: &str) -> Result<(), S3Error> {
    if key.len() > 1024 {
        return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long").with("Key", key));
    }
    Ok(())
}

/// Stored headers, user metadata and tags, each as (name, value) pairs.
pub(crate) type RequestMeta = (
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<(String, String)>,
);

/// The headers, user metadata and tags an upload request gives its object.
pub(crate) fn request_meta(ctx: &Ctx<'_>) -> Result<RequestMeta, S3Error> {
    let mut headers = Vec::new();
    for name in STORED_HEADERS {
        if let Some(v) = ctx.header(name) {
            let v = if name == "content-encoding" {
                // aws-chunked is the transfer's, not the object's.
                v.split(',')
                    .map(str::trim)
                    .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                v.to_string()
            };
            if !v.is_empty() {
                headers.push((name.to_string(), v));
            }
        }
    }
    let mut user = Vec::new();
    let mut size = 0;
    for (name, value) in &ctx.headers {
        if let Some(n) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = value.to_str().unwrap_or("").trim().to_string();
            size += n.len() + v.len();
            user.push((n.to_string(), v));
        }
    }
    if size > 2048 {
        return Err(S3Error::new(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
        ));
    }
    user.sort();
    let tags = match ctx.header("x-amz-tagging") {
        Some(t) => crate::protocol::form_decode(t),
        None => Vec::new(),
    };
    Ok((headers, user, tags))
}

/// The server-side encryption an upload asks for (header, else the bucket default).
pub(crate) fn request_sse(ctx: &Ctx<'_>, bucket: &Bucket) -> Result<Option<Sse>, S3Error> {
    match ctx.header("x-amz-server-side-encryption") {
        Some(alg) => {
            if !matches!(alg, "AES256" | "aws:kms" | "aws:kms:dsse") {
                return Err(S3Error::invalid_argument(format!(
                    "The encryption method specified is not supported: {alg}"
                ))
                .with("ArgumentName", "x-amz-server-side-encryption")
                .with("ArgumentValue", alg));
            }
            let key = ctx
                .header("x-amz-server-side-encryption-aws-kms-key-id")
                .map(str::to_string);
            if key.is_some() && alg == "AES256" {
                return Err(S3Error::invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                ));
            }
            Ok(Some(Sse {
                algorithm: alg.to_string(),
                kms_key_id: key,
                context: ctx
                    .header("x-amz-server-side-encryption-context")
                    .map(str::to_string),
                encrypted_data_key: None,
            }))
        }
        None => Ok(bucket.encryption.as_ref().map(|e| Sse {
            algorithm: e.algorithm.clone(),
            kms_key_id: e.kms_key_id.clone(),
            context: None,
            encrypted_data_key: None,
        })),
    }
}

/// The SSE condition keys of an upload.
pub(crate) fn sse_keys(ctx: &Ctx<'_>) -> Vec<(String, Value)> {
    let mut keys = Vec::new();
    if let Some(v) = ctx.header("x-amz-server-side-encryption") {
        keys.push((
            "s3:x-amz-server-side-encryption".to_string(),
            Value::from(v.to_string()),
        ));
    }
    if let Some(v) = ctx.header("x-amz-server-side-encryption-aws-kms-key-id") {
        keys.push((
            "s3:x-amz-server-side-encryption-aws-kms-key-id".to_string(),
            Value::from(v.to_string()),
        ));
    }
    keys
}

pub(crate) fn sse_headers(resp: &mut Response<ResponseBody>, sse: Option<&Sse>) {
    if let Some(sse) = sse {
        set_header(resp, "x-amz-server-side-encryption", &sse.algorithm);
        if let Some(k) = &sse.kms_key_id {
            set_header(resp, "x-amz-server-side-encryption-aws-kms-key-id", k);
        }
    }
}

/// Receives a body into a new temp file; returns the file id, its guard and what was received.
pub(crate) async fn receive_to_file<B>(
    ctx: &Ctx<'_>,
    body: B,
) -> Result<(String, TempFile, body::Received, Option<(String, String)>), S3Error>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if let Some(len) = ctx.header("content-length").and_then(|v| v.parse::<u64>().ok())
        && len > MAX_OBJECT + MAX_OBJECT / 64
    {
        return Err(S3Error::new(
            400,
            "EntityTooLarge",
            format!("Your proposed upload exceeds the maximum allowed size of {MAX_OBJECT} bytes"),
        ));
    }
    let mode = ctx.body_mode()?;
    let (id, path) = ctx.cloud.s3.temp_path();
    let guard = TempFile(path.clone());
    let file = tokio::fs::File::create(&path).await.map_err(S3Error::io)?;
    let capacity = ctx
        .header("x-amz-decoded-content-length")
        .or_else(|| ctx.header("content-length"))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024 * 1024)
        .clamp(8 * 1024, 1024 * 1024);
    let mut sink = Sink::File(tokio::io::BufWriter::with_capacity(capacity, file));
    let received = body::receive(body, mode, ctx.checksum_algorithm(), MAX_OBJECT, &mut sink).await?;
    drop(sink);
    let checksum = ctx.check_integrity(&received)?;
    Ok((id, guard, received, checksum))
}

fn hex(b: &[u8]) -> String {
    porteiro_sigv4::hex(b)
}

/// `PutObject`.
pub async fn put_object<B>(ctx: &Ctx<'_>, body: B) -> Reply
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    check_key(key)?;
    ctx.authorize(
        "s3:PutObject",
        object_arn(&bucket.name, key),
        Some(bucket),
        sse_keys(ctx),
    )?;
    let (headers, user_meta, tags) = request_meta(ctx)?;
    let sse = request_sse(ctx, bucket)?;
    let (id, guard, received, checksum) = receive_to_file(ctx, body).await?;
    let store = &ctx.cloud.s3;
    store.install(&id, &guard.0).map_err(S3Error::io)?;
    let meta = ObjectMeta {
        file: id.clone(),
        size: received.len,
        etag: hex(&received.md5),
        last_modified: ctx.info.now,
        owner: ctx.caller()?.account.clone(),
        headers,
        user_meta,
        checksum: checksum.clone(),
        sse,
        parts_count: None,
        tags,
    };
    if let Err(e) = store.put(&bucket.name, key, &meta) {
        store.remove_file(&id);
        return Err(e.into());
    }
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "etag", &format!("\"{}\"", meta.etag));
    if let Some((name, value)) = &checksum {
        set_header(&mut resp, name, value);
    }
    sse_headers(&mut resp, meta.sse.as_ref());
    Ok(resp)
}

/// Looks up an object for reading; a missing key is AccessDenied (not NoSuchKey) when the
/// caller may not list the bucket, as AWS does.
fn find_object(ctx: &Ctx<'_>, bucket: &Bucket, key: &str) -> Result<ObjectMeta, S3Error> {
    match ctx.cloud.s3.get(&bucket.name, key)? {
        Some(m) => Ok(m),
        None => {
            ctx.authorize("s3:ListBucket", bucket.arn(), Some(bucket), Vec::new())
                .map_err(|_| S3Error::new(403, "AccessDenied", "Access Denied"))?;
            Err(S3Error::no_such_key(key))
        }
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

/// Parses a single `bytes=` range against `size`: `Ok(None)` when absent or not a single
/// byte range (the whole object is sent, as AWS does).
fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let invalid = || {
        S3Error::new(416, "InvalidRange", "The requested range is not satisfiable")
            .with("RangeRequested", format!("bytes={spec}"))
            .with("ActualObjectSize", size.to_string())
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(invalid());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e.min(size.saturating_sub(1)),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(invalid());
        }
        (start, end)
    };
    Ok(Some(range))
}

/// `GetObject` and `HeadObject`.
pub async fn get_object(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    let existing = ctx.cloud.s3.get(&bucket.name, key)?;
    // `s3:ExistingObjectTag/<key>` for each tag of the object.
    let tag_keys = existing
        .iter()
        .flat_map(|m| m.tags.iter())
        .map(|(k, v)| (format!("s3:ExistingObjectTag/{k}"), Value::from(v.clone())))
        .collect();
    ctx.authorize(
        "s3:GetObject",
        object_arn(&bucket.name, key),
        Some(bucket),
        tag_keys,
    )?;
    let meta = match existing {
        Some(m) => m,
        None => find_object(ctx, bucket, key)?,
    };

    // Conditions (RFC 9110 order, as S3 applies them).
    let modified_since = |h: &str| ctx.header(h).and_then(porteiro_sigv4::time::parse_http_date);
    if let Some(m) = ctx.header("if-match")
        && !etag_matches(m, &meta.etag)
    {
        return Err(S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", "If-Match"));
    }
    if ctx.header("if-match").is_none()
        && let Some(t) = modified_since("if-unmodified-since")
        && meta.last_modified > t
    {
        return Err(S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", "If-Unmodified-Since"));
    }
    let not_modified = match ctx.header("if-none-match") {
        Some(m) => etag_matches(m, &meta.etag),
        None => modified_since("if-modified-since").is_some_and(|t| meta.last_modified <= t),
    };
    if not_modified {
        let mut resp = empty(StatusCode::NOT_MODIFIED);
        set_header(&mut resp, "etag", &format!("\"{}\"", meta.etag));
        set_header(
            &mut resp,
            "last-modified",
            &crate::time::http_date(meta.last_modified),
        );
        return Ok(resp);
    }

    let part_number = ctx.param("partNumber").and_then(|p| p.parse::<u32>().ok());
    let range = if part_number.is_some() {
        None
    } else {
        parse_range(ctx.header("range"), meta.size)?
    };
    let (start, len, status) = match range {
        Some((a, b)) => (a, b - a + 1, StatusCode::PARTIAL_CONTENT),
        None => (0, meta.size, StatusCode::OK),
    };
    let mut resp = if ctx.method == hyper::Method::HEAD {
        empty(status)
    } else {
        let file = tokio::fs::File::open(ctx.cloud.s3.data_path(&meta.file))
            .await
            .map_err(S3Error::io)?;
        let mut r = Response::new(http_body_util::BodyExt::boxed(FileBody::new(file, start, len)));
        *r.status_mut() = status;
        r
    };
    set_header(&mut resp, "content-length", &len.to_string());
    if let Some((a, b)) = range {
        set_header(
            &mut resp,
            "content-range",
            &format!("bytes {a}-{b}/{}", meta.size),
        );
    }
    set_header(&mut resp, "accept-ranges", "bytes");
    set_header(&mut resp, "etag", &format!("\"{}\"", meta.etag));
    set_header(
        &mut resp,
        "last-modified",
        &crate::time::http_date(meta.last_modified),
    );
    if !meta.headers.iter().any(|(n, _)| n == "content-type") {
        set_header(&mut resp, "content-type", "binary/octet-stream");
    }
    for (n, v) in &meta.headers {
        set_header(&mut resp, n, v);
    }
    for (n, v) in &meta.user_meta {
        set_header(&mut resp, &format!("x-amz-meta-{n}"), v);
    }
    for (param, header) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(v) = ctx.param(param) {
            set_header(&mut resp, header, v);
        }
    }
    if let Some(n) = meta.parts_count {
        set_header(&mut resp, "x-amz-mp-parts-count", &n.to_string());
    }
    if !meta.tags.is_empty() {
        set_header(&mut resp, "x-amz-tagging-count", &meta.tags.len().to_string());
    }
    if range.is_none()
        && ctx
            .header("x-amz-checksum-mode")
            .is_some_and(|m| m.eq_ignore_ascii_case("enabled"))
        && let Some((name, value)) = &meta.checksum
    {
        set_header(&mut resp, name, value);
    }
    sse_headers(&mut resp, meta.sse.as_ref());
    Ok(resp)
}

/// The bucket and key of `x-amz-copy-source` (`/bucket/key` or `bucket/key`, URL-encoded).
pub(crate) fn copy_source(value: &str) -> Result<(String, String), S3Error> {
    let value = value.split('?').next().unwrap_or(value);
    let decoded = super::path_decode(value);
    let trimmed = decoded.trim_start_matches('/');
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Err(S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )
        .with("ArgumentName", "x-amz-copy-source")
        .with("ArgumentValue", value)),
    }
}

/// Copies `len` bytes of `src` from `start` into a new temp file (fsynced); returns the file
/// id, its guard and the MD5 of what was copied.
pub(crate) async fn copy_data(
    ctx: &Ctx<'_>,
    src: std::path::PathBuf,
    start: u64,
    len: u64,
) -> Result<(String, TempFile, [u8; 16]), S3Error> {
    let (id, path) = ctx.cloud.s3.temp_path();
    let guard = TempFile(path.clone());
    let md5 = tokio::task::spawn_blocking(move || -> std::io::Result<[u8; 16]> {
        use md5::{Digest, Md5};
        use std::io::{Read, Seek, Write};
        let mut input = std::fs::File::open(&src)?;
        input.seek(std::io::SeekFrom::Start(start))?;
        let mut input = input.take(len);
        let mut out = std::fs::File::create(&path)?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        out.sync_all()?;
        Ok(hasher.finalize().into())
    })
    .await
    .map_err(|e| S3Error::new(500, "InternalError", format!("copy task failed: {e}")))?
    .map_err(S3Error::io)?;
    Ok((id, guard, md5))
}

/// `CopyObject`.
pub async fn copy_object(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    check_key(key)?;
    let (src_bucket_name, src_key) = copy_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
    let src_bucket = ctx
        .state
        .buckets
        .get(&src_bucket_name)
        .ok_or_else(|| S3Error::no_such_bucket(&src_bucket_name))?;
    ctx.authorize(
        "s3:GetObject",
        object_arn(&src_bucket.name, &src_key),
        Some(src_bucket),
        Vec::new(),
    )?;
    ctx.authorize(
        "s3:PutObject",
        object_arn(&bucket.name, key),
        Some(bucket),
        sse_keys(ctx),
    )?;
    let src = find_object(ctx, src_bucket, &src_key)?;
    if let Some(m) = ctx.header("x-amz-copy-source-if-match")
        && !etag_matches(m, &src.etag)
    {
        return Err(S3Error::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", "x-amz-copy-source-If-Match"));
    }
    let replace = match ctx.header("x-amz-metadata-directive").unwrap_or("COPY") {
        "COPY" => false,
        "REPLACE" => true,
        other => {
            return Err(
                S3Error::invalid_argument(format!("Unknown metadata directive: {other}"))
                    .with("ArgumentName", "x-amz-metadata-directive"),
            );
        }
    };
    let same = src_bucket.name == bucket.name && src_key == key;
    if same && !replace && ctx.header("x-amz-server-side-encryption").is_none() {
        return Err(S3Error::new(
            400,
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (headers, user_meta, tags) = if replace {
        request_meta(ctx)?
    } else {
        let (_, _, tags) = request_meta(ctx)?;
        let tags = if ctx.header("x-amz-tagging-directive") == Some("REPLACE") {
            tags
        } else {
            src.tags.clone()
        };
        (src.headers.clone(), src.user_meta.clone(), tags)
    };
    let sse = if ctx.header("x-amz-server-side-encryption").is_some() {
        request_sse(ctx, bucket)?
    } else {
        request_sse(ctx, bucket)?.or(src.sse.clone())
    };
    let (id, guard, md5) = copy_data(ctx, ctx.cloud.s3.data_path(&src.file), 0, src.size).await?;
    ctx.cloud.s3.install(&id, &guard.0).map_err(S3Error::io)?;
    let meta = ObjectMeta {
        file: id.clone(),
        size: src.size,
        etag: hex(&md5),
        last_modified: ctx.info.now,
        owner: ctx.caller()?.account.clone(),
        headers,
        user_meta,
        checksum: None,
        sse,
        parts_count: None,
        tags,
    };
    if let Err(e) = ctx.cloud.s3.put(&bucket.name, key, &meta) {
        ctx.cloud.s3.remove_file(&id);
        return Err(e.into());
    }
    let mut x = doc("CopyObjectResult");
    x.elem("LastModified", &crate::time::iso8601(meta.last_modified))
        .elem("ETag", &format!("\"{}\"", meta.etag))
        .close("CopyObjectResult");
    let mut resp = xml(StatusCode::OK, x.finish());
    sse_headers(&mut resp, meta.sse.as_ref());
    Ok(resp)
}

/// `DeleteObject`: 204 whether or not the key existed.
pub fn delete_object(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    ctx.authorize(
        "s3:DeleteObject",
        object_arn(&bucket.name, key),
        Some(bucket),
        Vec::new(),
    )?;
    ctx.cloud.s3.delete(&bucket.name, key)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `DeleteObjects`: each key authorized on its own; failures are listed, not fatal.
pub fn delete_objects(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let bucket = ctx.bucket()?;
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml("the body is not UTF-8"))?;
    let root = xml_in::parse(text).map_err(|e| S3Error::malformed_xml(&e.0))?;
    if root.name != "Delete" {
        return Err(S3Error::malformed_xml("the root element must be Delete"));
    }
    let quiet = root.text_of("Quiet") == Some("true");
    let objects: Vec<&str> = root
        .all("Object")
        .map(|o| o.text_of("Key").unwrap_or(""))
        .collect();
    if objects.is_empty() || objects.len() > 1000 {
        return Err(S3Error::malformed_xml("Delete must list 1 to 1000 objects"));
    }
    let mut x = doc("DeleteResult");
    for key in objects {
        let result = ctx
            .authorize(
                "s3:DeleteObject",
                object_arn(&bucket.name, key),
                Some(bucket),
                Vec::new(),
            )
            .and_then(|()| ctx.cloud.s3.delete(&bucket.name, key).map_err(S3Error::from));
        match result {
            Ok(_) if quiet => {}
            Ok(_) => {
                x.open("Deleted").elem("Key", key).close("Deleted");
            }
            Err(e) => {
                x.open("Error")
                    .elem("Key", key)
                    .elem("Code", &e.code)
                    .elem("Message", &e.message)
                    .close("Error");
            }
        }
    }
    x.close("DeleteResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// One page of a listing.
struct Page {
    objects: Vec<super::store::Listed>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or common prefix returned.
    last: Option<String>,
}

fn list_page(
    ctx: &Ctx<'_>,
    bucket: &str,
    prefix: &str,
    delimiter: &str,
    after: &str,
    max: usize,
) -> Result<Page, S3Error> {
    let mut page = Page {
        objects: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        last: None,
    };
    let mut cursor = after.to_string();
    // A marker that is a common prefix skips the keys under it.
    let mut last_prefix: Option<String> =
        (!delimiter.is_empty() && after.ends_with(delimiter)).then(|| after.to_string());
    const BATCH: usize = 1000;
    loop {
        let batch = ctx.cloud.s3.list(bucket, prefix, &cursor, BATCH)?;
        let n = batch.len();
        for item in batch {
            cursor.clone_from(&item.key);
            let rest = &item.key[prefix.len()..];
            let common = (!delimiter.is_empty())
                .then(|| {
                    rest.find(delimiter)
                        .map(|i| item.key[..prefix.len() + i + delimiter.len()].to_string())
                })
                .flatten();
            if let Some(cp) = common {
                if last_prefix.as_deref() == Some(cp.as_str()) {
                    continue;
                }
                if page.objects.len() + page.prefixes.len() >= max {
                    page.truncated = true;
                    return Ok(page);
                }
                last_prefix = Some(cp.clone());
                page.last = Some(cp.clone());
                page.prefixes.push(cp);
            } else {
                if page.objects.len() + page.prefixes.len() >= max {
                    page.truncated = true;
                    return Ok(page);
                }
                page.last = Some(item.key.clone());
                page.objects.push(item);
            }
        }
        if n < BATCH {
            return Ok(page);
        }
    }
}

fn max_keys(ctx: &Ctx<'_>) -> Result<usize, S3Error> {
    match ctx.param("max-keys") {
        None => Ok(1000),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n.min(1000)).unwrap_or(1000))
            .ok_or_else(|| {
                S3Error::invalid_argument("Provided max-keys not an integer or within integer range")
                    .with("ArgumentName", "max-keys")
                    .with("ArgumentValue", v)
            }),
    }
}

fn authorize_list(ctx: &Ctx<'_>, bucket: &Bucket) -> Result<(), S3Error> {
    let mut keys = Vec::new();
    for (param, key) in [
        ("prefix", "s3:prefix"),
        ("delimiter", "s3:delimiter"),
        ("max-keys", "s3:max-keys"),
    ] {
        if let Some(v) = ctx.param(param) {
            keys.push((key.to_string(), Value::from(v.to_string())));
        }
    }
    ctx.authorize("s3:ListBucket", bucket.arn(), Some(bucket), keys)
}

fn contents(x: &mut crate::xml::Xml, item: &super::store::Listed, url: bool, owner: bool) {
    x.open("Contents")
        .elem("Key", &enc(url, &item.key))
        .elem("LastModified", &crate::time::iso8601(item.meta.last_modified))
        .elem("ETag", &format!("\"{}\"", item.meta.etag))
        .elem("Size", &item.meta.size.to_string());
    if owner {
        x.open("Owner")
            .elem("ID", &item.meta.owner)
            .elem("DisplayName", &item.meta.owner)
            .close("Owner");
    }
    x.elem("StorageClass", "STANDARD").close("Contents");
}

fn url_encoding(ctx: &Ctx<'_>) -> Result<bool, S3Error> {
    match ctx.param("encoding-type") {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(S3Error::invalid_argument(format!(
            "Invalid Encoding Method specified in Request: {other}"
        ))
        .with("ArgumentName", "encoding-type")),
    }
}

fn hex_decode(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `ListObjectsV2`.
pub fn list_v2(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    authorize_list(ctx, bucket)?;
    let url = url_encoding(ctx)?;
    let prefix = ctx.param("prefix").unwrap_or("");
    let delimiter = ctx.param("delimiter").unwrap_or("");
    let max = max_keys(ctx)?;
    let token = ctx.param("continuation-token");
    let start_after = ctx.param("start-after").unwrap_or("");
    let after = match token {
        Some(t) => hex_decode(t).ok_or_else(|| {
            S3Error::invalid_argument("The continuation token provided is incorrect")
                .with("ArgumentName", "continuation-token")
        })?,
        None => start_after.to_string(),
    };
    let after = if after.as_str() < start_after {
        start_after.to_string()
    } else {
        after
    };
    let page = list_page(ctx, &bucket.name, prefix, delimiter, &after, max)?;
    let owner = ctx.param("fetch-owner") == Some("true");
    let mut x = doc("ListBucketResult");
    x.elem("Name", &bucket.name).elem("Prefix", &enc(url, prefix));
    if !delimiter.is_empty() {
        x.elem("Delimiter", &enc(url, delimiter));
    }
    x.elem("MaxKeys", &max.to_string());
    if url {
        x.elem("EncodingType", "url");
    }
    x.elem(
        "KeyCount",
        &(page.objects.len() + page.prefixes.len()).to_string(),
    )
    .elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if let Some(t) = token {
        x.elem("ContinuationToken", t);
    }
    if page.truncated
        && let Some(last) = &page.last
    {
        x.elem("NextContinuationToken", &hex(last.as_bytes()));
    }
    if !start_after.is_empty() {
        x.elem("StartAfter", &enc(url, start_after));
    }
    for item in &page.objects {
        contents(&mut x, item, url, owner);
    }
    for p in &page.prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(url, p))
            .close("CommonPrefixes");
    }
    x.close("ListBucketResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `ListObjects` (v1).
pub fn list_v1(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    authorize_list(ctx, bucket)?;
    let url = url_encoding(ctx)?;
    let prefix = ctx.param("prefix").unwrap_or("");
    let delimiter = ctx.param("delimiter").unwrap_or("");
    let marker = ctx.param("marker").unwrap_or("");
    let max = max_keys(ctx)?;
    let page = list_page(ctx, &bucket.name, prefix, delimiter, marker, max)?;
    let mut x = doc("ListBucketResult");
    x.elem("Name", &bucket.name)
        .elem("Prefix", &enc(url, prefix))
        .elem("Marker", &enc(url, marker))
        .elem("MaxKeys", &max.to_string());
    if !delimiter.is_empty() {
        x.elem("Delimiter", &enc(url, delimiter));
    }
    if url {
        x.elem("EncodingType", "url");
    }
    x.elem("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && !delimiter.is_empty()
        && let Some(last) = &page.last
    {
        x.elem("NextMarker", &enc(url, last));
    }
    for item in &page.objects {
        contents(&mut x, item, url, true);
    }
    for p in &page.prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(url, p))
            .close("CommonPrefixes");
    }
    x.close("ListBucketResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `PutObjectTagging`.
pub fn put_tagging(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    ctx.authorize(
        "s3:PutObjectTagging",
        object_arn(&bucket.name, key),
        Some(bucket),
        Vec::new(),
    )?;
    let tags = super::buckets::parse_tagging(body)?;
    if tags.len() > 10 {
        return Err(S3Error::new(
            400,
            "BadRequest",
            "Object tags cannot be greater than 10",
        ));
    }
    let mut meta = find_object(ctx, bucket, key)?;
    meta.tags = tags.into_iter().map(|t| (t.key, t.value)).collect();
    if !ctx.cloud.s3.update_meta(&bucket.name, key, &meta)? {
        return Err(S3Error::no_such_key(key));
    }
    Ok(empty(StatusCode::OK))
}

/// `GetObjectTagging`.
pub fn get_tagging(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    ctx.authorize(
        "s3:GetObjectTagging",
        object_arn(&bucket.name, key),
        Some(bucket),
        Vec::new(),
    )?;
    let meta = find_object(ctx, bucket, key)?;
    Ok(xml(
        StatusCode::OK,
        super::buckets::tagging_xml(meta.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    ))
}

/// `DeleteObjectTagging`.
pub fn delete_tagging(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    ctx.authorize(
        "s3:DeleteObjectTagging",
        object_arn(&bucket.name, key),
        Some(bucket),
        Vec::new(),
    )?;
    let mut meta = find_object(ctx, bucket, key)?;
    meta.tags.clear();
    ctx.cloud.s3.update_meta(&bucket.name, key, &meta)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(Some("bytes=90-"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=50-500"), 100).unwrap(), Some((50, 99)));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100).unwrap(), None);
        assert_eq!(parse_range(None, 100).unwrap(), None);
        assert_eq!(
            parse_range(Some("bytes=100-"), 100).unwrap_err().code,
            "InvalidRange"
        );
        assert_eq!(parse_range(Some("bytes=0-"), 0).unwrap_err().status, 416);
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            copy_source("/b/dir/a%20b.txt").unwrap(),
            ("b".into(), "dir/a b.txt".into())
        );
        assert_eq!(
            copy_source("b/k?versionId=null").unwrap(),
            ("b".into(), "k".into())
        );
        assert!(copy_source("b").is_err());
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"abc\", \"def\"", "def"));
        assert!(etag_matches("*", "x"));
        assert!(!etag_matches("\"abc\"", "abd"));
    }
}
