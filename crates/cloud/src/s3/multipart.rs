//! Multipart uploads: create, upload part, complete, abort, list parts, list uploads.

use hyper::{Response, StatusCode};
use md5::{Digest, Md5};

use super::objects::{
    TempFile, object_arn, receive_to_file, request_meta, request_sse, sse_headers, sse_keys,
};
use super::store::{ObjectMeta, Part, Upload, new_file_id};
use super::{Ctx, S3Error, doc, empty, enc, set_header, xml, xml_in};
use crate::server::ResponseBody;

type Reply = Result<Response<ResponseBody>, S3Error>;

/// Smallest part size except the last (5 MiB).
pub const MIN_PART: u64 = 5 * 1024 * 1024;

/// The upload named by `uploadId`, which must be for this bucket and key.
fn find_upload(ctx: &Ctx<'_>) -> Result<Upload, S3Error> {
    let id = ctx.param("uploadId").unwrap_or("");
    match ctx.cloud.s3.upload(id)? {
        Some(u) if u.bucket == ctx.bucket_name() && u.key == ctx.key() => Ok(u),
        _ => Err(S3Error::no_such_upload(id)),
    }
}

/// `CreateMultipartUpload`.
pub fn create(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let key = ctx.key();
    if key.len() > 1024 {
        return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long").with("Key", key));
    }
    ctx.authorize(
        "s3:PutObject",
        object_arn(&bucket.name, key),
        Some(bucket),
        sse_keys(ctx),
    )?;
    let (headers, user_meta, tags) = request_meta(ctx)?;
    let caller = ctx.caller()?;
    let upload = Upload {
        id: new_file_id(),
        bucket: bucket.name.clone(),
        key: key.to_string(),
        initiated: ctx.info.now,
        initiator: caller.arn.clone(),
        meta: ObjectMeta {
            file: String::new(),
            size: 0,
            etag: String::new(),
            last_modified: 0,
            owner: caller.account.clone(),
            headers,
            user_meta,
            checksum: None,
            sse: request_sse(ctx, bucket)?,
            parts_count: None,
            tags,
        },
    };
    ctx.cloud.s3.create_upload(&upload)?;
    let mut x = doc("InitiateMultipartUploadResult");
    x.elem("Bucket", &upload.bucket)
        .elem("Key", &upload.key)
        .elem("UploadId", &upload.id)
        .close("InitiateMultipartUploadResult");
    let mut resp = xml(StatusCode::OK, x.finish());
    sse_headers(&mut resp, upload.meta.sse.as_ref());
    if let Some(a) = ctx.header("x-amz-checksum-algorithm") {
        set_header(&mut resp, "x-amz-checksum-algorithm", a);
    }
    Ok(resp)
}

fn part_number(ctx: &Ctx<'_>) -> Result<u32, S3Error> {
    ctx.param("partNumber")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive")
                .with("ArgumentName", "partNumber")
        })
}

/// `UploadPart`.
pub async fn upload_part<B>(ctx: &Ctx<'_>, body: B) -> Reply
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let bucket = ctx.bucket()?;
    let number = part_number(ctx)?;
    let upload = find_upload(ctx)?;
    ctx.authorize(
        "s3:PutObject",
        object_arn(&bucket.name, &upload.key),
        Some(bucket),
        Vec::new(),
    )?;
    if ctx.header("x-amz-copy-source").is_some() {
        return upload_part_copy(ctx, &upload, number).await;
    }
    let (id, guard, received, checksum) = receive_to_file(ctx, body).await?;
    let store = &ctx.cloud.s3;
    store.install(&id, &guard.0).map_err(S3Error::io)?;
    let part = Part {
        number,
        file: id,
        size: received.len,
        etag: porteiro_sigv4::hex(&received.md5),
        last_modified: ctx.info.now,
        checksum: checksum.clone(),
    };
    if !store.put_part(&upload.id, &part)? {
        return Err(S3Error::no_such_upload(&upload.id));
    }
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "etag", &format!("\"{}\"", part.etag));
    if let Some((n, v)) = &checksum {
        set_header(&mut resp, n, v);
    }
    sse_headers(&mut resp, upload.meta.sse.as_ref());
    Ok(resp)
}

/// `UploadPartCopy` (`x-amz-copy-source`, optional `x-amz-copy-source-range: bytes=a-b`).
async fn upload_part_copy(ctx: &Ctx<'_>, upload: &Upload, number: u32) -> Reply {
    let (src_bucket_name, src_key) =
        super::objects::copy_source(ctx.header("x-amz-copy-source").unwrap_or(""))?;
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
    let src = ctx
        .cloud
        .s3
        .get(&src_bucket.name, &src_key)?
        .ok_or_else(|| S3Error::no_such_key(&src_key))?;
    let (start, len) = match ctx.header("x-amz-copy-source-range") {
        None => (0, src.size),
        Some(r) => {
            let parsed = r
                .strip_prefix("bytes=")
                .and_then(|s| s.split_once('-'))
                .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                .filter(|(a, b)| a <= b && *b < src.size);
            let (a, b) = parsed.ok_or_else(|| {
                S3Error::new(400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
                    .with("ArgumentName", "x-amz-copy-source-range")
            })?;
            (a, b - a + 1)
        }
    };
    let (id, guard, md5) =
        super::objects::copy_data(ctx, ctx.cloud.s3.data_path(&src.file), start, len).await?;
    ctx.cloud.s3.install(&id, &guard.0).map_err(S3Error::io)?;
    let part = Part {
        number,
        file: id,
        size: len,
        etag: porteiro_sigv4::hex(&md5),
        last_modified: ctx.info.now,
        checksum: None,
    };
    if !ctx.cloud.s3.put_part(&upload.id, &part)? {
        return Err(S3Error::no_such_upload(&upload.id));
    }
    let mut x = doc("CopyPartResult");
    x.elem("LastModified", &crate::time::iso8601(part.last_modified))
        .elem("ETag", &format!("\"{}\"", part.etag))
        .close("CopyPartResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `CompleteMultipartUpload`.
pub async fn complete(ctx: &Ctx<'_>, body: &[u8]) -> Reply {
    let bucket = ctx.bucket()?;
    let upload = find_upload(ctx)?;
    ctx.authorize(
        "s3:PutObject",
        object_arn(&bucket.name, &upload.key),
        Some(bucket),
        Vec::new(),
    )?;
    let text = std::str::from_utf8(body).map_err(|_| S3Error::malformed_xml("the body is not UTF-8"))?;
    let root = xml_in::parse(text).map_err(|e| S3Error::malformed_xml(&e.0))?;
    if root.name != "CompleteMultipartUpload" {
        return Err(S3Error::malformed_xml(
            "the root element must be CompleteMultipartUpload",
        ));
    }
    let mut asked: Vec<(u32, String)> = Vec::new();
    for p in root.all("Part") {
        let n = p
            .text_of("PartNumber")
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| S3Error::malformed_xml("every Part needs a PartNumber"))?;
        let etag = p.text_of("ETag").unwrap_or("").trim_matches('"').to_string();
        asked.push((n, etag));
    }
    if asked.is_empty() {
        return Err(S3Error::malformed_xml("You must specify at least one part"));
    }
    if asked.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
        .with("UploadId", upload.id.as_str()));
    }
    let stored = ctx.cloud.s3.parts(&upload.id)?;
    let mut chosen: Vec<Part> = Vec::with_capacity(asked.len());
    for (n, etag) in &asked {
        match stored.iter().find(|p| p.number == *n) {
            Some(p) if p.etag == *etag => chosen.push(p.clone()),
            _ => {
                return Err(S3Error::new(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                )
                .with("UploadId", upload.id.as_str())
                .with("PartNumber", n.to_string())
                .with("ETag", etag.as_str()));
            }
        }
    }
    if let Some(small) = chosen[..chosen.len() - 1].iter().find(|p| p.size < MIN_PART) {
        return Err(S3Error::new(
            400,
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed object size.",
        )
        .with("ProposedSize", small.size.to_string())
        .with("MinSizeAllowed", MIN_PART.to_string())
        .with("PartNumber", small.number.to_string())
        .with("ETag", small.etag.as_str()));
    }
    // ETag: MD5 of the concatenated binary part MD5s, then -N.
    let mut md5s = Md5::new();
    for p in &chosen {
        let raw: Vec<u8> = (0..p.etag.len())
            .step_by(2)
            .filter_map(|i| p.etag.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        md5s.update(&raw);
    }
    let etag = format!("{}-{}", porteiro_sigv4::hex(&md5s.finalize()), chosen.len());
    let size: u64 = chosen.iter().map(|p| p.size).sum();

    // Concatenate the parts into one file, fsync, install.
    let (id, path) = ctx.cloud.s3.temp_path();
    let guard = TempFile(path.clone());
    let sources: Vec<std::path::PathBuf> = chosen.iter().map(|p| ctx.cloud.s3.data_path(&p.file)).collect();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut out = std::fs::File::create(&path)?;
        for src in sources {
            let mut input = std::fs::File::open(src)?;
            std::io::copy(&mut input, &mut out)?;
        }
        out.sync_all()
    })
    .await
    .map_err(|e| S3Error::new(500, "InternalError", format!("assembling the object failed: {e}")))?
    .map_err(S3Error::io)?;
    ctx.cloud.s3.install(&id, &guard.0).map_err(S3Error::io)?;
    let mut meta = upload.meta.clone();
    meta.file = id.clone();
    meta.size = size;
    meta.etag = etag;
    meta.last_modified = ctx.info.now;
    meta.parts_count = Some(u32::try_from(chosen.len()).unwrap_or(u32::MAX));
    if !ctx.cloud.s3.finish_upload(&upload, Some(&meta))? {
        ctx.cloud.s3.remove_file(&id);
        return Err(S3Error::no_such_upload(&upload.id));
    }
    let mut x = doc("CompleteMultipartUploadResult");
    x.elem("Location", &format!("/{}/{}", upload.bucket, upload.key))
        .elem("Bucket", &upload.bucket)
        .elem("Key", &upload.key)
        .elem("ETag", &format!("\"{}\"", meta.etag))
        .close("CompleteMultipartUploadResult");
    let mut resp = xml(StatusCode::OK, x.finish());
    sse_headers(&mut resp, meta.sse.as_ref());
    Ok(resp)
}

/// `AbortMultipartUpload`.
pub fn abort(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let upload = find_upload(ctx)?;
    ctx.authorize(
        "s3:AbortMultipartUpload",
        object_arn(&bucket.name, &upload.key),
        Some(bucket),
        Vec::new(),
    )?;
    if !ctx.cloud.s3.finish_upload(&upload, None)? {
        return Err(S3Error::no_such_upload(&upload.id));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

fn bounded(ctx: &Ctx<'_>, name: &str) -> Result<usize, S3Error> {
    match ctx.param(name) {
        None => Ok(1000),
        Some(v) => v.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            S3Error::invalid_argument(format!("Provided {name} not an integer or within integer range"))
                .with("ArgumentName", name)
        }),
    }
}

/// `ListParts`.
pub fn list_parts(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    let upload = find_upload(ctx)?;
    ctx.authorize(
        "s3:ListMultipartUploadParts",
        object_arn(&bucket.name, &upload.key),
        Some(bucket),
        Vec::new(),
    )?;
    let max = bounded(ctx, "max-parts")?;
    let marker = ctx
        .param("part-number-marker")
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    let parts: Vec<Part> = ctx
        .cloud
        .s3
        .parts(&upload.id)?
        .into_iter()
        .filter(|p| p.number > marker)
        .collect();
    let truncated = parts.len() > max;
    let shown = &parts[..parts.len().min(max)];
    let mut x = doc("ListPartsResult");
    x.elem("Bucket", &upload.bucket)
        .elem("Key", &upload.key)
        .elem("UploadId", &upload.id)
        .open("Initiator")
        .elem("ID", &upload.initiator)
        .elem("DisplayName", &upload.initiator)
        .close("Initiator")
        .open("Owner")
        .elem("ID", &upload.meta.owner)
        .elem("DisplayName", &upload.meta.owner)
        .close("Owner")
        .elem("StorageClass", "STANDARD")
        .elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = shown.last() {
        x.elem("NextPartNumberMarker", &last.number.to_string());
    }
    x.elem("MaxParts", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for p in shown {
        x.open("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &crate::time::iso8601(p.last_modified))
            .elem("ETag", &format!("\"{}\"", p.etag))
            .elem("Size", &p.size.to_string());
        if let Some((name, value)) = &p.checksum {
            let element = match name.as_str() {
                "x-amz-checksum-crc32" => "ChecksumCRC32",
                "x-amz-checksum-crc32c" => "ChecksumCRC32C",
                "x-amz-checksum-crc64nvme" => "ChecksumCRC64NVME",
                "x-amz-checksum-sha1" => "ChecksumSHA1",
                _ => "ChecksumSHA256",
            };
            x.elem(element, value);
        }
        x.close("Part");
    }
    x.close("ListPartsResult");
    Ok(xml(StatusCode::OK, x.finish()))
}

/// `ListMultipartUploads`.
pub fn list_uploads(ctx: &Ctx<'_>) -> Reply {
    let bucket = ctx.bucket()?;
    ctx.authorize(
        "s3:ListBucketMultipartUploads",
        bucket.arn(),
        Some(bucket),
        Vec::new(),
    )?;
    let url = ctx.param("encoding-type") == Some("url");
    let max = bounded(ctx, "max-uploads")?;
    let prefix = ctx.param("prefix").unwrap_or("");
    let key_marker = ctx.param("key-marker").unwrap_or("");
    let id_marker = ctx.param("upload-id-marker").unwrap_or("");
    // Without an upload-id-marker, every upload of key-marker itself is skipped.
    let id_floor = if id_marker.is_empty() && !key_marker.is_empty() {
        "\u{10FFFF}"
    } else {
        id_marker
    };
    let mut uploads = ctx
        .cloud
        .s3
        .uploads(&bucket.name, prefix, key_marker, id_floor, max + 1)?;
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    let mut x = doc("ListMultipartUploadsResult");
    x.elem("Bucket", &bucket.name)
        .elem("KeyMarker", &enc(url, key_marker))
        .elem("UploadIdMarker", id_marker);
    if let Some(last) = uploads.last().filter(|_| truncated) {
        x.elem("NextKeyMarker", &enc(url, &last.key))
            .elem("NextUploadIdMarker", &last.id);
    }
    x.elem("Prefix", &enc(url, prefix))
        .elem("MaxUploads", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for u in &uploads {
        x.open("Upload")
            .elem("Key", &enc(url, &u.key))
            .elem("UploadId", &u.id)
            .open("Initiator")
            .elem("ID", &u.initiator)
            .elem("DisplayName", &u.initiator)
            .close("Initiator")
            .open("Owner")
            .elem("ID", &u.meta.owner)
            .elem("DisplayName", &u.meta.owner)
            .close("Owner")
            .elem("StorageClass", "STANDARD")
            .elem("Initiated", &crate::time::iso8601(u.initiated))
            .close("Upload");
    }
    x.close("ListMultipartUploadsResult");
    Ok(xml(StatusCode::OK, x.finish()))
}
