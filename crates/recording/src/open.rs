//! Opening a store from a specification string (`--store SPEC`).
//!
//! - a path (`/var/lib/porteiro/recordings`, `./recordings`): a [`LocalDir`];
//! - `s3://BUCKET/PREFIX[?OPTION=VALUE&...]` (feature `s3`): an [`crate::s3::S3Store`], options
//!   `endpoint=URL` (an S3-compatible service such as the embedded cloud; default AWS, or
//!   `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`), `region=REGION` (default `AWS_REGION`,
//!   `AWS_DEFAULT_REGION`, else `us-east-1`), `spool=DIR` (the local spool of live recordings;
//!   default given by the caller) and `path-style=true|false` (default: true with an endpoint).
//!   Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
//!   a specification never holds secrets.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::RecordingError;
use crate::store::{LocalDir, RecordingStore};

/// A parsed store specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// A local directory.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing `/`.
        prefix: String,
        /// `endpoint=`.
        endpoint: Option<String>,
        /// `region=`.
        region: Option<String>,
        /// `spool=`.
        spool: Option<PathBuf>,
        /// `path-style=`.
        path_style: Option<bool>,
    },
}

impl StoreSpec {
    /// Parses a specification (see the module's documentation).
    pub fn parse(spec: &str) -> Result<StoreSpec, RecordingError> {
        let bad = |why: String| RecordingError::Spec {
            spec: spec.to_owned(),
            why,
        };
        if spec.trim().is_empty() {
            return Err(bad("it is empty: give a directory or s3://BUCKET/PREFIX".into()));
        }
        let Some(rest) = spec.strip_prefix("s3://") else {
            if spec.contains("://") {
                return Err(bad(
                    "unknown scheme: give a directory or s3://BUCKET/PREFIX".into()
                ));
            }
            return Ok(StoreSpec::Local(PathBuf::from(spec)));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket: use s3://BUCKET/PREFIX".into()));
        }
        let (mut endpoint, mut region, mut spool, mut path_style) = (None, None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() {
                return Err(bad(format!("option {name} has no value: write {name}=VALUE")));
            }
            match name {
                "endpoint" => endpoint = Some(value.to_owned()),
                "region" => region = Some(value.to_owned()),
                "spool" => spool = Some(PathBuf::from(value)),
                "path-style" => {
                    path_style = Some(match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("path-style={value}: use true or false"))),
                    })
                }
                _ => {
                    return Err(bad(format!(
                        "unknown option {name:?}: the options are endpoint=URL, region=REGION, spool=DIR and path-style=true|false (credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                    )));
                }
            }
        }
        Ok(StoreSpec::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint,
            region,
            spool,
            path_style,
        })
    }
}

/// The spool of `s3://bucket/prefix` under `root`: `root/<bucket>/<prefix>`, the prefix's `/`
/// written `~` (`_` for the bucket's root), so two stores never share a spool.
pub fn default_spool_of(root: &Path, bucket: &str, prefix: &str) -> PathBuf {
    let mut name = if prefix.is_empty() {
        "_".to_owned()
    } else {
        prefix.replace('/', "~")
    };
    if name.starts_with('.') {
        name.insert(0, '_');
    }
    let bucket = if bucket.starts_with('.') {
        format!("_{bucket}")
    } else {
        bucket.replace('/', "~")
    };
    root.join(bucket).join(name)
}

/// Opens the store a specification names. `default_spool` is the root of the spool of an S3
/// store without `spool=` (e.g. `<data-dir>/recordings-spool`; the store's spool is
/// [`default_spool_of`] it); it must be the same for the process that records and for
/// recovery, since live recordings are only there.
pub fn open_store(spec: &str, default_spool: &Path) -> Result<Arc<dyn RecordingStore>, RecordingError> {
    match StoreSpec::parse(spec)? {
        StoreSpec::Local(dir) => Ok(Arc::new(LocalDir::new(dir))),
        #[cfg(feature = "s3")]
        StoreSpec::S3 {
            bucket,
            prefix,
            endpoint,
            region,
            spool,
            path_style,
        } => {
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let spool = spool.unwrap_or_else(|| default_spool_of(default_spool, &bucket, &prefix));
            let mut options = crate::s3::S3Options::new(bucket, &prefix, spool);
            options.endpoint = endpoint
                .or_else(|| env("AWS_ENDPOINT_URL_S3"))
                .or_else(|| env("AWS_ENDPOINT_URL"));
            options.region = region;
            options.path_style = path_style;
            Ok(Arc::new(crate::s3::S3Store::open(options)?))
        }
        #[cfg(not(feature = "s3"))]
        StoreSpec::S3 { .. } => {
            let _ = default_spool;
            Err(RecordingError::Spec {
                spec: spec.to_owned(),
                why: "this build has no S3 support: build porteiro-recording with the `s3` feature".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_local_directories() {
        assert_eq!(
            StoreSpec::parse("/var/lib/rec").expect("parses"),
            StoreSpec::Local("/var/lib/rec".into())
        );
        assert_eq!(
            StoreSpec::parse("rec").expect("parses"),
            StoreSpec::Local("rec".into())
        );
    }

    #[test]
    fn s3_specs_carry_bucket_prefix_and_options() {
        assert_eq!(
            StoreSpec::parse("s3://b/some/prefix/?endpoint=http://127.0.0.1:4566&region=eu-west-1&spool=/tmp/s&path-style=false")
                .expect("parses"),
            StoreSpec::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into(),
                endpoint: Some("http://127.0.0.1:4566".into()),
                region: Some("eu-west-1".into()),
                spool: Some("/tmp/s".into()),
                path_style: Some(false),
            }
        );
        assert_eq!(
            StoreSpec::parse("s3://b").expect("parses"),
            StoreSpec::S3 {
                bucket: "b".into(),
                prefix: String::new(),
                endpoint: None,
                region: None,
                spool: None,
                path_style: None,
            }
        );
    }

    #[test]
    fn each_bucket_and_prefix_has_its_own_spool() {
        let root = Path::new("/data/recordings-spool");
        assert_eq!(default_spool_of(root, "b", "a/b"), root.join("b/a~b"));
        assert_eq!(default_spool_of(root, "b", ""), root.join("b/_"));
        assert_eq!(default_spool_of(root, "b", ".."), root.join("b/_.."));
        assert_ne!(default_spool_of(root, "b", "x"), default_spool_of(root, "c", "x"));
    }

    #[test]
    fn bad_specs_say_what_to_fix() {
        for (spec, says) in [
            ("", "empty"),
            ("s3:///p", "no bucket"),
            ("s3://b/p?secret=x", "unknown option"),
            ("s3://b/p?region", "has no value"),
            ("s3://b/p?path-style=yes", "true or false"),
            ("gs://b/p", "unknown scheme"),
        ] {
            let err = StoreSpec::parse(spec).expect_err(spec).to_string();
            assert!(err.contains(says), "{spec}: {err}");
        }
    }
}
