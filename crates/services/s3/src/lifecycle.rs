//! The lifecycle job: applies each bucket's enabled lifecycle rules (Expiration,
//! ExpiredObjectDeleteMarker, NoncurrentVersionExpiration, AbortIncompleteMultipartUpload)
//! every `lifecycle_interval_ms`. Transitions are accepted by the configuration API but
//! there is one storage class here, so nothing moves.
//!
//! Time comes from `state.clock` only. As S3 does, an action is due at the first midnight
//! UTC at or after `start + days` (S3 "rounds the resulting time to the next day midnight
//! UTC"). Every change is its own small transaction that re-checks what it acts on, so
//! the job never races a concurrent PutObject into deleting the newer object.

use std::ops::Bound;
use std::sync::Arc;

use s3s::dto::{BucketLifecycleConfiguration, LifecycleRule};

use crate::bucket_config::{load, KIND_LIFECYCLE};
use crate::error::{decode, Error};
use crate::keys;
use crate::meta::{BucketMeta, ObjectVersion, Part, Upload};
use crate::notify::{self, EventName};
use crate::write;
use crate::S3State;

const DAY_MS: i64 = 86_400_000;
/// Store rows read per page.
const PAGE: usize = 1000;
/// Versions of one key considered per run (a key with more is finished in later runs,
/// newest first); bounds the memory of one group.
const MAX_VERSIONS_PER_KEY: usize = 10_000;

/// What one pass did (for tests and logs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub expired: u64,
    pub delete_markers_added: u64,
    pub delete_markers_removed: u64,
    pub noncurrent_expired: u64,
    pub uploads_aborted: u64,
}

/// The first midnight UTC at or after `ms`.
pub fn midnight_ceil(ms: i64) -> i64 {
    let r = ms.rem_euclid(DAY_MS);
    if r == 0 {
        ms
    } else {
        ms - r + DAY_MS
    }
}

/// When an action of `days` days counted from `start_ms` is due.
pub fn due_ms(start_ms: i64, days: i32) -> i64 {
    midnight_ceil(start_ms.saturating_add(i64::from(days).saturating_mul(DAY_MS)))
}

/// Runs the job until `stop` turns true.
pub async fn run(state: Arc<S3State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = std::time::Duration::from_millis(state.config.lifecycle_interval_ms.max(100));
    loop {
        if *stop.borrow() {
            return;
        }
        match run_once(&state).await {
            Ok(s) if s != Stats::default() => tracing::info!(?s, "S3 lifecycle pass"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "S3 lifecycle pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            r = stop.changed() => {
                if r.is_err() {
                    return;
                }
            }
        }
    }
}

/// One pass over every bucket with a lifecycle configuration.
pub async fn run_once(state: &S3State) -> Result<Stats, Error> {
    let mut stats = Stats::default();
    let end = keys::prefix_end(keys::BUCKET);
    let mut cursor = keys::BUCKET.to_vec();
    loop {
        let (buckets, next) = {
            let snap = state.db.snapshot()?;
            let rows = snap.range(
                Bound::Included(cursor.as_slice()),
                Bound::Excluded(end.as_slice()),
                false,
                PAGE,
            )?;
            let mut found = Vec::new();
            for (_, v) in &rows {
                let b: BucketMeta = decode("bucket", v)?;
                let conf: Option<BucketLifecycleConfiguration> =
                    load(snap.as_ref(), &b.name, KIND_LIFECYCLE)?;
                if let Some(c) = conf {
                    found.push((b, c));
                }
            }
            let next = rows.last().map(|(k, _)| {
                let mut n = k.clone();
                n.push(0);
                n
            });
            (found, next)
        };
        for (b, c) in buckets {
            for rule in c.rules.iter().filter(|r| r.status.as_str() == "Enabled") {
                apply_rule(state, &b, rule, &mut stats).await?;
            }
        }
        match next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    Ok(stats)
}

/// The rule's filter, flattened.
struct Filter {
    prefix: String,
    tags: Vec<(String, String)>,
    size_gt: Option<i64>,
    size_lt: Option<i64>,
}

fn filter_of(rule: &LifecycleRule) -> Filter {
    let mut f = Filter {
        prefix: rule.prefix.clone().unwrap_or_default(),
        tags: vec![],
        size_gt: None,
        size_lt: None,
    };
    if let Some(fl) = &rule.filter {
        if let Some(p) = &fl.prefix {
            f.prefix = p.clone();
        }
        if let Some(t) = &fl.tag {
            f.tags.push((
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            ));
        }
        f.size_gt = fl.object_size_greater_than;
        f.size_lt = fl.object_size_less_than;
        if let Some(a) = &fl.and {
            if let Some(p) = &a.prefix {
                f.prefix = p.clone();
            }
            for t in a.tags.iter().flatten() {
                f.tags.push((
                    t.key.clone().unwrap_or_default(),
                    t.value.clone().unwrap_or_default(),
                ));
            }
            f.size_gt = a.object_size_greater_than.or(f.size_gt);
            f.size_lt = a.object_size_less_than.or(f.size_lt);
        }
    }
    f
}

impl Filter {
    fn matches(&self, v: &ObjectVersion) -> bool {
        let size = i64::try_from(v.size).unwrap_or(i64::MAX);
        self.tags.iter().all(|t| v.tags.contains(t))
            && self.size_gt.is_none_or(|g| size > g)
            && self.size_lt.is_none_or(|l| size < l)
    }
}

async fn apply_rule(
    state: &S3State,
    bucket: &BucketMeta,
    rule: &LifecycleRule,
    stats: &mut Stats,
) -> Result<(), Error> {
    let filter = filter_of(rule);
    if rule.expiration.is_some() || rule.noncurrent_version_expiration.is_some() {
        expire_versions(state, bucket, rule, &filter, stats).await?;
    }
    if let Some(days) = rule
        .abort_incomplete_multipart_upload
        .as_ref()
        .and_then(|a| a.days_after_initiation)
    {
        abort_uploads(state, &bucket.name, &filter.prefix, days, stats).await?;
    }
    Ok(())
}

/// Walks every version under the rule's prefix, one key's versions (newest first) at a
/// time.
async fn expire_versions(
    state: &S3State,
    bucket: &BucketMeta,
    rule: &LifecycleRule,
    filter: &Filter,
    stats: &mut Stats,
) -> Result<(), Error> {
    let base = keys::versions_of_bucket(&bucket.name);
    let start = keys::versions_with_key_prefix(&bucket.name, &filter.prefix);
    let end = keys::prefix_end(&start);
    let mut cursor = start;
    let mut group: Vec<ObjectVersion> = Vec::new();
    loop {
        let rows = {
            let snap = state.db.snapshot()?;
            snap.range(
                Bound::Included(cursor.as_slice()),
                Bound::Excluded(end.as_slice()),
                false,
                PAGE,
            )?
        };
        let Some((last, _)) = rows.last() else {
            break;
        };
        let mut next = last.clone();
        next.push(0);
        for (k, v) in rows {
            let Some(rest) = k.get(base.len()..) else {
                continue;
            };
            let Some((key, _seq)) = keys::parse_version_suffix(rest) else {
                continue;
            };
            if group.first().is_some_and(|g| g.key != key) {
                let done = std::mem::take(&mut group);
                apply_to_key(state, bucket, rule, filter, done, stats).await?;
            }
            if group.len() < MAX_VERSIONS_PER_KEY {
                let ver: ObjectVersion = decode("object version", &v)?;
                group.push(ver);
            }
        }
        cursor = next;
    }
    if !group.is_empty() {
        apply_to_key(state, bucket, rule, filter, group, stats).await?;
    }
    Ok(())
}

/// Applies the rule's version actions to one key's versions (newest first).
async fn apply_to_key(
    state: &S3State,
    bucket: &BucketMeta,
    rule: &LifecycleRule,
    filter: &Filter,
    versions: Vec<ObjectVersion>,
    stats: &mut Stats,
) -> Result<(), Error> {
    let now = state.clock.now_millis();
    let Some(current) = versions.first() else {
        return Ok(());
    };
    // Noncurrent versions: version i became noncurrent when version i-1 was written.
    if let Some(nve) = &rule.noncurrent_version_expiration {
        if let Some(days) = nve.noncurrent_days {
            let keep = usize::try_from(nve.newer_noncurrent_versions.unwrap_or(0)).unwrap_or(0);
            let mut noncurrent_index = 0usize;
            for pair in versions.windows(2) {
                let [newer, older] = pair else { continue };
                let idx = noncurrent_index;
                noncurrent_index += 1;
                if idx < keep || !filter.matches(older) && !older.delete_marker {
                    continue;
                }
                if due_ms(newer.last_modified_ms, days) <= now {
                    let (b, k, id, seq) = (
                        bucket.name.clone(),
                        older.key.clone(),
                        older.version_id.clone(),
                        older.seq,
                    );
                    let origin = notify::Origin::s3(state.notifications.delivers());
                    let removed = state
                        .db
                        .write(move |txn| -> Result<Option<usize>, Error> {
                            match write::get_version(txn, &b, &k, &id)? {
                                Some(v) if v.seq == seq => {
                                    write::delete_version(txn, &b, &k, &id)?;
                                    Ok(Some(announce(
                                        txn,
                                        &b,
                                        EventName::LifecycleDelete,
                                        &notify::ObjectRef::removed(&v),
                                        &origin,
                                        now,
                                    )?))
                                }
                                _ => Ok(None),
                            }
                        })
                        .await?;
                    if let Some(notified) = removed {
                        stats.noncurrent_expired += 1;
                        state.notifications.after_commit(notified);
                    }
                }
            }
        }
    }
    let Some(exp) = &rule.expiration else {
        return Ok(());
    };
    if current.delete_marker {
        // A delete marker with no other versions left is "expired"; remove it when asked.
        if exp.expired_object_delete_marker == Some(true) {
            let (b, k, seq) = (bucket.name.clone(), current.key.clone(), current.seq);
            let origin = notify::Origin::s3(state.notifications.delivers());
            let removed = state
                .db
                .write(move |txn| -> Result<Option<usize>, Error> {
                    let prefix = keys::versions_of_key(&b, &k);
                    let end = keys::prefix_end(&prefix);
                    let rows = txn.range(
                        Bound::Included(prefix.as_slice()),
                        Bound::Excluded(end.as_slice()),
                        false,
                        2,
                    )?;
                    let [(_, v)] = rows.as_slice() else {
                        return Ok(None);
                    };
                    let only: ObjectVersion = decode("object version", v)?;
                    if !only.delete_marker || only.seq != seq {
                        return Ok(None);
                    }
                    write::delete_version(txn, &b, &k, &only.version_id)?;
                    let object = notify::ObjectRef::removed(&only);
                    Ok(Some(announce(
                        txn,
                        &b,
                        EventName::LifecycleDelete,
                        &object,
                        &origin,
                        now,
                    )?))
                })
                .await?;
            if let Some(notified) = removed {
                stats.delete_markers_removed += 1;
                state.notifications.after_commit(notified);
            }
        }
        return Ok(());
    }
    if !filter.matches(current) {
        return Ok(());
    }
    let due = match (exp.days, &exp.date) {
        (Some(d), _) => due_ms(current.last_modified_ms, d),
        (None, Some(date)) => {
            let t: time::OffsetDateTime = date.clone().into();
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
        }
        (None, None) => return Ok(()),
    };
    if due > now {
        return Ok(());
    }
    let (b, k, seq, owner) = (
        bucket.name.clone(),
        current.key.clone(),
        current.seq,
        bucket.account_id.clone(),
    );
    let origin = notify::Origin::s3(state.notifications.delivers());
    let (outcome, notified) = state
        .db
        .write(move |txn| -> Result<(u8, usize), Error> {
            // Re-read the bucket (versioning may have changed) and the key's latest.
            let Some(bm) = write::load_bucket(txn, &b)? else {
                return Ok((0, 0));
            };
            let Some(latest) = write::latest_version(txn, &b, &k)? else {
                return Ok((0, 0));
            };
            if latest.seq != seq || latest.delete_marker {
                return Ok((0, 0));
            }
            if bm.versioning.is_some() {
                let mut marker = ObjectVersion {
                    key: k.clone(),
                    delete_marker: true,
                    last_modified_ms: now,
                    owner_account: owner.clone(),
                    ..Default::default()
                };
                write::put_version(txn, &bm, &mut marker)?;
                let object = notify::ObjectRef::written(&marker);
                let event = EventName::LifecycleDeleteMarkerCreated;
                Ok((2, notify::record(txn, &bm, event, &object, &origin, now)?))
            } else {
                write::delete_version(txn, &b, &k, &latest.version_id)?;
                let object = notify::ObjectRef::removed(&latest);
                let event = EventName::LifecycleDelete;
                Ok((1, notify::record(txn, &bm, event, &object, &origin, now)?))
            }
        })
        .await?;
    state.notifications.after_commit(notified);
    match outcome {
        1 => stats.expired += 1,
        2 => stats.delete_markers_added += 1,
        _ => {}
    }
    Ok(())
}

/// Aborts uploads under `prefix` initiated `days` days ago (rounded to midnight UTC),
/// discarding their parts' bodies.
/// Writes the notifications of a lifecycle removal (the bucket re-read in the same
/// transaction: it is what the configuration hangs off).
fn announce(
    txn: &mut dyn nimbus_store::WriteTxn,
    bucket: &str,
    event: EventName,
    object: &notify::ObjectRef<'_>,
    origin: &notify::Origin,
    now_ms: i64,
) -> Result<usize, Error> {
    match write::load_bucket(txn, bucket)? {
        Some(bm) => notify::record(txn, &bm, event, object, origin, now_ms),
        None => Ok(0),
    }
}

async fn abort_uploads(
    state: &S3State,
    bucket: &str,
    prefix: &str,
    days: i32,
    stats: &mut Stats,
) -> Result<(), Error> {
    let now = state.clock.now_millis();
    let mut start = keys::uploads_of_bucket(bucket);
    for &c in prefix.as_bytes() {
        start.push(c);
        if c == 0 {
            start.push(0xFF);
        }
    }
    let end = keys::prefix_end(&start);
    let mut cursor = start;
    loop {
        let rows = {
            let snap = state.db.snapshot()?;
            snap.range(
                Bound::Included(cursor.as_slice()),
                Bound::Excluded(end.as_slice()),
                false,
                PAGE,
            )?
        };
        let Some((last, _)) = rows.last() else {
            break;
        };
        let mut next = last.clone();
        next.push(0);
        for (k, v) in rows {
            let up: Upload = decode("upload", &v)?;
            if due_ms(up.initiated_ms, days) > now {
                continue;
            }
            let id = up.upload_id.clone();
            let removed = state
                .db
                .write(move |txn| -> Result<bool, Error> {
                    if txn.get(&k)?.is_none() {
                        return Ok(false);
                    }
                    let pp = keys::parts_of_upload(&id);
                    let pe = keys::prefix_end(&pp);
                    // At most 10,000 parts; read them in bounded pages.
                    let mut pc = pp.clone();
                    loop {
                        let parts = txn.range(
                            Bound::Included(pc.as_slice()),
                            Bound::Excluded(pe.as_slice()),
                            false,
                            PAGE,
                        )?;
                        let Some((plast, _)) = parts.last() else {
                            break;
                        };
                        let mut pn = plast.clone();
                        pn.push(0);
                        for (pk, pv) in &parts {
                            let part: Part = decode("part", pv)?;
                            write::discard_blobs(txn, std::slice::from_ref(&part.blob))?;
                            txn.delete(pk)?;
                        }
                        pc = pn;
                    }
                    txn.delete(&k)?;
                    Ok(true)
                })
                .await?;
            if removed {
                stats.uploads_aborted += 1;
            }
        }
        cursor = next;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bucket_config::put_raw;
    use crate::meta::BlobRef;
    use nimbus_core::ManualClock;
    use s3s::dto::{
        AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleExpiration, LifecycleRuleFilter,
        NoncurrentVersionExpiration, Tag,
    };

    /// 2024-01-15T10:30:00Z.
    const T0: i64 = 1_705_314_600_000;

    fn bucket(versioning: Option<&str>) -> BucketMeta {
        BucketMeta {
            name: "bk".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            created_ms: T0,
            versioning: versioning.map(str::to_string),
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: None,
            acl: None,
            tags: vec![],
        }
    }

    fn setup(
        versioning: Option<&str>,
        rules: Vec<LifecycleRule>,
    ) -> (Arc<S3State>, Arc<ManualClock>, BucketMeta) {
        let clock = Arc::new(ManualClock::new(T0));
        let state = S3State::for_tests(clock.clone());
        let b = bucket(versioning);
        let b2 = b.clone();
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                t.put(&keys::bucket("bk"), &crate::error::encode(&b2))?;
                put_raw(
                    t,
                    "bk",
                    KIND_LIFECYCLE,
                    &BucketLifecycleConfiguration {
                        rules: rules.clone(),
                    },
                )
            })
            .unwrap();
        (state, clock, b)
    }

    fn rule() -> LifecycleRule {
        LifecycleRule {
            abort_incomplete_multipart_upload: None,
            expiration: None,
            filter: None,
            id: Some("r".into()),
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            prefix: None,
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            transitions: None,
        }
    }

    fn put(state: &S3State, b: &BucketMeta, key: &str, blob: &str, now: i64) -> ObjectVersion {
        let b = b.clone();
        let v = ObjectVersion {
            key: key.into(),
            last_modified_ms: now,
            size: 3,
            blobs: vec![BlobRef {
                id: blob.into(),
                size: 3,
                inline: false,
            }],
            ..Default::default()
        };
        state
            .db
            .write_blocking(move |t| -> Result<ObjectVersion, Error> {
                let mut v2 = v.clone();
                write::put_version(t, &b, &mut v2)?;
                Ok(v2)
            })
            .unwrap()
    }

    fn versions(state: &S3State, key: &str) -> Vec<ObjectVersion> {
        let snap = state.db.snapshot().unwrap();
        let p = keys::versions_of_key("bk", key);
        let e = keys::prefix_end(&p);
        snap.range(
            Bound::Included(p.as_slice()),
            Bound::Excluded(e.as_slice()),
            false,
            100,
        )
        .unwrap()
        .into_iter()
        .map(|(_, v)| decode("v", &v).unwrap())
        .collect()
    }

    #[test]
    fn due_rounds_up_to_midnight_utc() {
        // 2024-01-15 10:30 + 3 days -> 2024-01-19 00:00 UTC.
        assert_eq!(due_ms(T0, 3), 1_705_622_400_000);
        assert_eq!(midnight_ceil(1_705_622_400_000), 1_705_622_400_000);
    }

    #[tokio::test]
    async fn unversioned_objects_expire_at_the_midnight_after_their_days() {
        let mut r = rule();
        r.expiration = Some(LifecycleExpiration {
            date: None,
            days: Some(1),
            expired_object_delete_marker: None,
        });
        r.filter = Some(LifecycleRuleFilter {
            prefix: Some("logs/".into()),
            ..Default::default()
        });
        let (state, clock, b) = setup(None, vec![r]);
        put(&state, &b, "logs/a", "blob-a", T0);
        put(&state, &b, "keep/b", "blob-b", T0);
        // 2024-01-16 10:30: due is 2024-01-17 00:00, not yet.
        clock.advance_millis(DAY_MS);
        assert_eq!(run_once(&state).await.unwrap(), Stats::default());
        assert_eq!(versions(&state, "logs/a").len(), 1);
        // 2024-01-17 00:00:01: due.
        clock.set_millis(1_705_449_601_000);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.expired, 1);
        assert!(versions(&state, "logs/a").is_empty());
        assert_eq!(versions(&state, "keep/b").len(), 1, "outside the prefix");
        let snap = state.db.snapshot().unwrap();
        assert!(snap.get(&keys::garbage("blob-a")).unwrap().is_some());
        assert!(snap.get(&keys::garbage("blob-b")).unwrap().is_none());
    }

    #[tokio::test]
    async fn versioned_expiry_adds_a_delete_marker_then_noncurrent_expiry_and_marker_cleanup() {
        let mut r = rule();
        r.expiration = Some(LifecycleExpiration {
            date: None,
            days: Some(2),
            expired_object_delete_marker: None,
        });
        let mut r2 = rule();
        r2.id = Some("nc".into());
        r2.noncurrent_version_expiration = Some(NoncurrentVersionExpiration {
            newer_noncurrent_versions: None,
            noncurrent_days: Some(1),
        });
        let mut r3 = rule();
        r3.id = Some("dm".into());
        r3.expiration = Some(LifecycleExpiration {
            date: None,
            days: None,
            expired_object_delete_marker: Some(true),
        });
        let (state, clock, b) = setup(Some("Enabled"), vec![r, r2, r3]);
        put(&state, &b, "k", "blob-1", T0);
        // Day 3: the current version expires -> delete marker (version kept).
        clock.set_millis(T0 + 3 * DAY_MS);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.delete_markers_added, 1);
        let vs = versions(&state, "k");
        assert_eq!(vs.len(), 2);
        assert!(vs[0].delete_marker);
        // The object became noncurrent at day 3 (10:30); 1 noncurrent day -> due at
        // the midnight after day 4 10:30.
        clock.set_millis(T0 + 4 * DAY_MS);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.noncurrent_expired, 0);
        clock.set_millis(midnight_ceil(T0 + 4 * DAY_MS) + 1);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.noncurrent_expired, 1);
        // The lone delete marker is removed (by the ExpiredObjectDeleteMarker rule,
        // in the same pass or the next).
        let s2 = run_once(&state).await.unwrap();
        assert_eq!(s.delete_markers_removed + s2.delete_markers_removed, 1);
        assert!(versions(&state, "k").is_empty());
    }

    #[tokio::test]
    async fn newer_noncurrent_versions_are_kept() {
        let mut r = rule();
        r.noncurrent_version_expiration = Some(NoncurrentVersionExpiration {
            newer_noncurrent_versions: Some(1),
            noncurrent_days: Some(1),
        });
        let (state, clock, b) = setup(Some("Enabled"), vec![r]);
        let v1 = put(&state, &b, "k", "b1", T0);
        let v2 = put(&state, &b, "k", "b2", T0 + 1000);
        let v3 = put(&state, &b, "k", "b3", T0 + 2000);
        clock.set_millis(T0 + 10 * DAY_MS);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.noncurrent_expired, 1);
        let ids: Vec<String> = versions(&state, "k")
            .into_iter()
            .map(|v| v.version_id)
            .collect();
        assert_eq!(ids, vec![v3.version_id, v2.version_id]);
        assert!(!ids.contains(&v1.version_id));
    }

    #[tokio::test]
    async fn tag_filter_limits_expiry() {
        let mut r = rule();
        r.expiration = Some(LifecycleExpiration {
            date: None,
            days: Some(1),
            expired_object_delete_marker: None,
        });
        r.filter = Some(LifecycleRuleFilter {
            tag: Some(Tag {
                key: Some("tmp".into()),
                value: Some("yes".into()),
            }),
            ..Default::default()
        });
        let (state, clock, b) = setup(None, vec![r]);
        put(&state, &b, "untagged", "b1", T0);
        let b2 = b.clone();
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                let mut v = ObjectVersion {
                    key: "tagged".into(),
                    last_modified_ms: T0,
                    tags: vec![("tmp".into(), "yes".into())],
                    ..Default::default()
                };
                write::put_version(t, &b2, &mut v)?;
                Ok(())
            })
            .unwrap();
        clock.set_millis(T0 + 5 * DAY_MS);
        let s = run_once(&state).await.unwrap();
        assert_eq!(s.expired, 1);
        assert!(versions(&state, "tagged").is_empty());
        assert_eq!(versions(&state, "untagged").len(), 1);
    }

    #[tokio::test]
    async fn incomplete_uploads_are_aborted_and_parts_discarded() {
        let mut r = rule();
        r.abort_incomplete_multipart_upload = Some(AbortIncompleteMultipartUpload {
            days_after_initiation: Some(2),
        });
        let (state, clock, _b) = setup(None, vec![r]);
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                let up = Upload {
                    upload_id: "up1".into(),
                    key: "big".into(),
                    initiated_ms: T0,
                    owner_account: "000000000000".into(),
                    ..Default::default()
                };
                t.put(
                    &keys::upload("bk", "big", "up1"),
                    &crate::error::encode(&up),
                )?;
                for (n, inline) in [(1u32, false), (2, true)] {
                    let p = Part {
                        part_number: n,
                        size: 5,
                        etag: "\"x\"".into(),
                        last_modified_ms: T0,
                        blob: BlobRef {
                            id: format!("pblob{n}"),
                            size: 5,
                            inline,
                        },
                        checksum: None,
                    };
                    t.put(&keys::part("up1", n), &crate::error::encode(&p))?;
                    if inline {
                        t.put(&keys::inline(&format!("pblob{n}")), b"hello")?;
                    } else {
                        t.put(&keys::blob_ref(&format!("pblob{n}")), b"")?;
                    }
                }
                Ok(())
            })
            .unwrap();
        clock.set_millis(T0 + DAY_MS);
        assert_eq!(run_once(&state).await.unwrap().uploads_aborted, 0);
        clock.set_millis(midnight_ceil(T0 + 2 * DAY_MS));
        assert_eq!(run_once(&state).await.unwrap().uploads_aborted, 1);
        let snap = state.db.snapshot().unwrap();
        assert!(snap
            .get(&keys::upload("bk", "big", "up1"))
            .unwrap()
            .is_none());
        assert!(snap.get(&keys::part("up1", 1)).unwrap().is_none());
        assert!(snap.get(&keys::garbage("pblob1")).unwrap().is_some());
        assert!(snap.get(&keys::blob_ref("pblob1")).unwrap().is_none());
        assert!(snap.get(&keys::inline("pblob2")).unwrap().is_none());
    }

    #[tokio::test]
    async fn disabled_rules_do_nothing() {
        let mut r = rule();
        r.status = ExpirationStatus::from_static(ExpirationStatus::DISABLED);
        r.expiration = Some(LifecycleExpiration {
            date: None,
            days: Some(1),
            expired_object_delete_marker: None,
        });
        let (state, clock, b) = setup(None, vec![r]);
        put(&state, &b, "k", "b1", T0);
        clock.set_millis(T0 + 30 * DAY_MS);
        assert_eq!(run_once(&state).await.unwrap(), Stats::default());
        assert_eq!(versions(&state, "k").len(), 1);
    }
}
