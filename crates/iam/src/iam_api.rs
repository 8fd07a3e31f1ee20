//! The IAM API: users, roles, managed and inline policies, attachments, access keys,
//! tags. Every change is one store transaction; every check that decides a change runs
//! inside that transaction.

use nimbus_core::RequestContext;
use nimbus_model::iam::{self as m, errors, IamApi};
use nimbus_store::WriteTxn;
use nimbus_wire::AwsError;

use crate::ids;
use crate::policy;
use crate::records::{
    self, AccessKeyRecord, Owner, PolicyRecord, PolicyVersionRecord, RoleRecord, TagRecord,
    UserRecord,
};
use crate::service::{
    implicit_user, no_such_role, no_such_user, policy_arn, role_arn, split_iam_arn, user_arn, Fail,
    IamState, Result, MAX_LISTED_RECORDS,
};

/// AWS quota: two access keys per user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// AWS quota: ten managed policies attached to one user or role.
pub const MAX_ATTACHED_POLICIES: usize = 10;
/// AWS quota: five versions per managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;
/// AWS quota: fifty tags per user or role.
pub const MAX_TAGS: usize = 50;
/// Default role session limit (seconds).
pub const DEFAULT_MAX_SESSION_DURATION_SECS: i32 = 3_600;
/// IAM's default page size.
const DEFAULT_MAX_ITEMS: usize = 100;
/// The `UserName` IAM reports for the account root (which has no user).
const ROOT_USER_NAME: &str = "root";

/// The IAM service.
#[derive(Clone)]
pub struct Iam {
    state: IamState,
}

impl Iam {
    pub fn new(state: IamState) -> Self {
        Iam { state }
    }
}

// ------------------------------------------------------------------ conversions

fn tags_out(tags: &[TagRecord]) -> Option<Vec<m::Tag>> {
    if tags.is_empty() {
        None
    } else {
        Some(
            tags.iter()
                .map(|t| m::Tag {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect(),
        )
    }
}

fn user_out(account: &str, u: &UserRecord, with_tags: bool) -> m::User {
    m::User {
        path: u.path.clone(),
        user_name: u.name.clone(),
        user_id: u.user_id.clone(),
        arn: user_arn(account, &u.path, &u.name),
        create_date: u.create_date,
        password_last_used: None,
        permissions_boundary: None,
        tags: if with_tags { tags_out(&u.tags) } else { None },
    }
}

fn role_out(account: &str, r: &RoleRecord, detailed: bool) -> m::Role {
    m::Role {
        path: r.path.clone(),
        role_name: r.name.clone(),
        role_id: r.role_id.clone(),
        arn: role_arn(account, &r.path, &r.name),
        create_date: r.create_date,
        assume_role_policy_document: Some(policy::url_encode(&r.assume_role_policy_document)),
        description: r.description.clone(),
        max_session_duration: Some(r.max_session_duration),
        tags: tags_out(&r.tags),
        role_last_used: detailed.then(m::RoleLastUsed::default),
        ..Default::default()
    }
}

fn policy_out(account: &str, p: &PolicyRecord, with_tags: bool) -> m::Policy {
    m::Policy {
        policy_name: Some(p.name.clone()),
        policy_id: Some(p.policy_id.clone()),
        arn: Some(policy_arn(account, &p.path, &p.name)),
        path: Some(p.path.clone()),
        default_version_id: Some(p.default_version_id.clone()),
        attachment_count: Some(p.attachment_count),
        permissions_boundary_usage_count: Some(0),
        is_attachable: Some(true),
        description: p.description.clone(),
        create_date: Some(p.create_date),
        update_date: Some(p.update_date),
        tags: if with_tags { tags_out(&p.tags) } else { None },
    }
}

fn version_out(p: &PolicyRecord, v: &PolicyVersionRecord, with_document: bool) -> m::PolicyVersion {
    m::PolicyVersion {
        document: with_document.then(|| policy::url_encode(&v.document)),
        version_id: Some(v.version_id.clone()),
        is_default_version: Some(v.version_id == p.default_version_id),
        create_date: Some(v.create_date),
    }
}

fn tags_in(tags: Option<Vec<m::Tag>>) -> std::result::Result<Vec<TagRecord>, AwsError> {
    let mut out: Vec<TagRecord> = Vec::new();
    for t in tags.unwrap_or_default() {
        if out.iter().any(|x| x.key.eq_ignore_ascii_case(&t.key)) {
            return Err(errors::invalid_input_exception(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
        out.push(TagRecord {
            key: t.key,
            value: t.value,
        });
    }
    if out.len() > MAX_TAGS {
        return Err(errors::limit_exceeded_exception(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(out)
}

/// Adds or replaces tags (keys compare case-insensitively, as IAM does).
fn merge_tags(
    existing: &mut Vec<TagRecord>,
    new: Vec<TagRecord>,
) -> std::result::Result<(), AwsError> {
    for t in new {
        match existing
            .iter_mut()
            .find(|x| x.key.eq_ignore_ascii_case(&t.key))
        {
            Some(x) => *x = t,
            None => existing.push(t),
        }
    }
    if existing.len() > MAX_TAGS {
        return Err(errors::limit_exceeded_exception(
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(())
}

fn remove_tags(existing: &mut Vec<TagRecord>, keys: &[String]) {
    existing.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

/// Pages `items` (already in order, each with its marker key) after `marker`.
fn paginate<T>(
    items: Vec<(String, T)>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> (Vec<T>, bool, Option<String>) {
    let max = max_items
        .and_then(|m| usize::try_from(m).ok())
        .filter(|m| *m > 0)
        .unwrap_or(DEFAULT_MAX_ITEMS);
    let mut iter = items
        .into_iter()
        .skip_while(|(k, _)| marker.is_some_and(|m| k.as_str() <= m))
        .peekable();
    let mut page = Vec::new();
    let mut last = None;
    while page.len() < max {
        match iter.next() {
            Some((k, v)) => {
                last = Some(k);
                page.push(v);
            }
            None => break,
        }
    }
    let truncated = iter.peek().is_some();
    (page, truncated, if truncated { last } else { None })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Fail::Store(nimbus_store::StoreError::Corrupt(format!(
            "iam record: {e}"
        )))
    })
}

fn path_matches(path: &str, prefix: Option<&str>) -> bool {
    prefix.is_none_or(|p| path.starts_with(p))
}

/// What a policy ARN names: a customer managed policy of the caller's account, or an
/// AWS managed one (`arn:aws:iam::aws:policy/...`, accepted for attachment without a
/// catalogue of them).
enum PolicyRef {
    Local { name: String, path: String },
    AwsManaged,
}

fn policy_ref(account: &str, arn: &str) -> Option<PolicyRef> {
    let (acct, path, name) = split_iam_arn(arn, "policy")?;
    if acct == "aws" {
        return Some(PolicyRef::AwsManaged);
    }
    if acct != account {
        return None;
    }
    Some(PolicyRef::Local {
        name: name.to_string(),
        path: path.to_string(),
    })
}

fn not_attachable(arn: &str) -> AwsError {
    errors::no_such_entity_exception(format!("Policy {arn} does not exist or is not attachable."))
}

fn policy_not_found(arn: &str) -> AwsError {
    errors::no_such_entity_exception(format!("Policy {arn} was not found."))
}

/// Loads a local managed policy by ARN inside a transaction.
fn load_policy(
    txn: &(impl nimbus_store::ReadTxn + ?Sized),
    account: &str,
    arn: &str,
) -> Result<Option<PolicyRecord>> {
    let Some(PolicyRef::Local { name, path }) = policy_ref(account, arn) else {
        return Ok(None);
    };
    let rec: Option<PolicyRecord> = records::get(txn, &records::policy_key(account, &name))?;
    // The ARN must match the stored path and spelling exactly.
    Ok(rec.filter(|p| p.path == path && p.name == name))
}

fn check_owner_exists(
    txn: &(impl nimbus_store::ReadTxn + ?Sized),
    account: &str,
    owner: Owner,
    name: &str,
) -> Result<()> {
    let exists = match owner {
        Owner::User => txn.get(&records::user_key(account, name))?.is_some(),
        Owner::Role => txn.get(&records::role_key(account, name))?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(Fail::Aws(match owner {
            Owner::User => no_such_user(name),
            Owner::Role => no_such_role(name),
        }))
    }
}

fn owner_label(owner: Owner) -> &'static str {
    match owner {
        Owner::User => "user",
        Owner::Role => "role",
    }
}

// ------------------------------------------------------------------ shared operations

impl Iam {
    async fn write<T, F>(&self, f: F) -> std::result::Result<T, AwsError>
    where
        F: FnMut(&mut dyn WriteTxn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.state.db.write(f).await.map_err(Fail::into_aws)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&(dyn nimbus_store::ReadTxn + Send)) -> Result<T>,
    ) -> std::result::Result<T, AwsError> {
        let snap = self.state.snapshot().map_err(Fail::into_aws)?;
        f(snap.as_ref()).map_err(Fail::into_aws)
    }

    async fn put_inline(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        policy_name: String,
        document: String,
    ) -> std::result::Result<(), AwsError> {
        policy::validate(&document)?;
        let (limit, label) = match owner {
            Owner::User => (policy::MAX_USER_INLINE_POLICY_CHARS, "user"),
            Owner::Role => (policy::MAX_ROLE_INLINE_POLICY_CHARS, "role"),
        };
        if policy::counted_chars(&document) > limit {
            return Err(errors::limit_exceeded_exception(format!(
                "Maximum policy size of {limit} bytes exceeded for {label} {owner_name}"
            )));
        }
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            check_owner_exists(&*txn, &account, owner, &owner_name)?;
            let key = records::child_key(&account, owner, 'p', &owner_name, &policy_name);
            records::put(txn, &key, &document)?;
            Ok(())
        })
        .await
    }

    fn get_inline(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: &str,
        policy_name: &str,
    ) -> std::result::Result<(String, String), AwsError> {
        let account = &ctx.account_id;
        self.read(|snap| {
            let display = match owner {
                Owner::User => {
                    records::get::<UserRecord>(snap, &records::user_key(account, owner_name))?
                        .map(|u| u.name)
                }
                Owner::Role => {
                    records::get::<RoleRecord>(snap, &records::role_key(account, owner_name))?
                        .map(|r| r.name)
                }
            };
            let Some(display) = display else {
                return Err(Fail::Aws(match owner {
                    Owner::User => no_such_user(owner_name),
                    Owner::Role => no_such_role(owner_name),
                }));
            };
            let doc: Option<String> = records::get(
                snap,
                &records::child_key(account, owner, 'p', owner_name, policy_name),
            )?;
            match doc {
                Some(d) => Ok((display, d)),
                None => Err(Fail::Aws(errors::no_such_entity_exception(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    owner_label(owner)
                )))),
            }
        })
    }

    fn list_inline(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> std::result::Result<(Vec<String>, bool, Option<String>), AwsError> {
        let account = &ctx.account_id;
        let names = self.read(|snap| {
            check_owner_exists(snap, account, owner, owner_name)?;
            let prefix = records::child_prefix(account, owner, 'p', owner_name);
            Ok(records::scan_all(snap, &prefix, MAX_LISTED_RECORDS)?
                .into_iter()
                .map(|(k, _)| (k.clone(), k))
                .collect::<Vec<_>>())
        })?;
        Ok(paginate(names, marker, max_items))
    }

    async fn delete_inline(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        policy_name: String,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            check_owner_exists(&*txn, &account, owner, &owner_name)?;
            let key = records::child_key(&account, owner, 'p', &owner_name, &policy_name);
            if txn.get(&key)?.is_none() {
                return Err(Fail::Aws(errors::no_such_entity_exception(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    owner_label(owner)
                ))));
            }
            txn.delete(&key)?;
            Ok(())
        })
        .await
    }

    async fn attach(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        arn: String,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        let now = self.state.now_secs();
        self.write(move |txn| {
            check_owner_exists(&*txn, &account, owner, &owner_name)?;
            let key = records::child_key(&account, owner, 'a', &owner_name, &arn);
            if txn.get(&key)?.is_some() {
                // Attaching twice is not an error in IAM.
                return Ok(());
            }
            let local = match policy_ref(&account, &arn) {
                Some(PolicyRef::AwsManaged) => None,
                Some(PolicyRef::Local { .. }) => match load_policy(&*txn, &account, &arn)? {
                    Some(p) => Some(p),
                    None => return Err(Fail::Aws(not_attachable(&arn))),
                },
                None => return Err(Fail::Aws(not_attachable(&arn))),
            };
            let attached = records::scan(
                &*txn,
                &records::child_prefix(&account, owner, 'a', &owner_name),
                None,
                MAX_ATTACHED_POLICIES + 1,
            )?;
            if attached.len() >= MAX_ATTACHED_POLICIES {
                let quota = match owner {
                    Owner::User => "PoliciesPerUser",
                    Owner::Role => "PoliciesPerRole",
                };
                return Err(Fail::Aws(errors::limit_exceeded_exception(format!(
                    "Cannot exceed quota for {quota}: {MAX_ATTACHED_POLICIES}"
                ))));
            }
            if let Some(mut p) = local {
                p.attachment_count = p.attachment_count.saturating_add(1);
                p.update_date = p.update_date.max(now);
                records::put(txn, &records::policy_key(&account, &p.name), &p)?;
            }
            records::put(txn, &key, &"")?;
            Ok(())
        })
        .await
    }

    async fn detach(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        arn: String,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            check_owner_exists(&*txn, &account, owner, &owner_name)?;
            let key = records::child_key(&account, owner, 'a', &owner_name, &arn);
            if txn.get(&key)?.is_none() {
                return Err(Fail::Aws(policy_not_found(&arn)));
            }
            txn.delete(&key)?;
            if let Some(mut p) = load_policy(&*txn, &account, &arn)? {
                p.attachment_count = (p.attachment_count - 1).max(0);
                records::put(txn, &records::policy_key(&account, &p.name), &p)?;
            }
            Ok(())
        })
        .await
    }

    fn list_attached(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> std::result::Result<(Vec<m::AttachedPolicy>, bool, Option<String>), AwsError> {
        let account = &ctx.account_id;
        let items = self.read(|snap| {
            check_owner_exists(snap, account, owner, owner_name)?;
            let prefix = records::child_prefix(account, owner, 'a', owner_name);
            Ok(records::scan_all(snap, &prefix, MAX_LISTED_RECORDS)?
                .into_iter()
                .filter_map(|(arn, _)| {
                    let (_, path, name) = split_iam_arn(&arn, "policy")?;
                    if !path_matches(path, path_prefix) {
                        return None;
                    }
                    let item = m::AttachedPolicy {
                        policy_name: Some(name.to_string()),
                        policy_arn: Some(arn.clone()),
                    };
                    Some((arn, item))
                })
                .collect::<Vec<_>>())
        })?;
        Ok(paginate(items, marker, max_items))
    }

    async fn tag(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        tags: Vec<m::Tag>,
    ) -> std::result::Result<(), AwsError> {
        let new = tags_in(Some(tags))?;
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            match owner {
                Owner::User => {
                    let key = records::user_key(&account, &owner_name);
                    let mut u: UserRecord = records::get(&*txn, &key)?
                        .ok_or_else(|| Fail::Aws(no_such_user(&owner_name)))?;
                    merge_tags(&mut u.tags, new.clone())?;
                    records::put(txn, &key, &u)?;
                }
                Owner::Role => {
                    let key = records::role_key(&account, &owner_name);
                    let mut r: RoleRecord = records::get(&*txn, &key)?
                        .ok_or_else(|| Fail::Aws(no_such_role(&owner_name)))?;
                    merge_tags(&mut r.tags, new.clone())?;
                    records::put(txn, &key, &r)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn untag(
        &self,
        ctx: &RequestContext,
        owner: Owner,
        owner_name: String,
        keys: Vec<String>,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            match owner {
                Owner::User => {
                    let key = records::user_key(&account, &owner_name);
                    let mut u: UserRecord = records::get(&*txn, &key)?
                        .ok_or_else(|| Fail::Aws(no_such_user(&owner_name)))?;
                    remove_tags(&mut u.tags, &keys);
                    records::put(txn, &key, &u)?;
                }
                Owner::Role => {
                    let key = records::role_key(&account, &owner_name);
                    let mut r: RoleRecord = records::get(&*txn, &key)?
                        .ok_or_else(|| Fail::Aws(no_such_role(&owner_name)))?;
                    remove_tags(&mut r.tags, &keys);
                    records::put(txn, &key, &r)?;
                }
            }
            Ok(())
        })
        .await
    }

    fn tags_page(
        tags: &[TagRecord],
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> (Vec<m::Tag>, bool, Option<String>) {
        let items = tags
            .iter()
            .map(|t| {
                (
                    t.key.clone(),
                    m::Tag {
                        key: t.key.clone(),
                        value: t.value.clone(),
                    },
                )
            })
            .collect();
        paginate(items, marker, max_items)
    }

    /// The key's owner as the request names it (explicit `UserName`, else the caller).
    fn key_owner(
        ctx: &RequestContext,
        user_name: Option<String>,
    ) -> std::result::Result<Option<String>, AwsError> {
        match user_name {
            Some(u) => Ok(Some(u)),
            None => implicit_user(ctx),
        }
    }
}

fn root_keys_prefix(account: &str) -> Vec<u8> {
    format!("iam/a/{account}/rk/").into_bytes()
}

fn key_index(account: &str, user: Option<&str>, akid: &str) -> Vec<u8> {
    match user {
        Some(u) => records::child_key(account, Owner::User, 'k', u, akid),
        None => {
            let mut k = root_keys_prefix(account);
            k.extend_from_slice(akid.as_bytes());
            k
        }
    }
}

fn key_index_prefix(account: &str, user: Option<&str>) -> Vec<u8> {
    match user {
        Some(u) => records::child_prefix(account, Owner::User, 'k', u),
        None => root_keys_prefix(account),
    }
}

fn no_such_key(akid: &str) -> AwsError {
    errors::no_such_entity_exception(format!("The Access Key with id {akid} cannot be found."))
}

fn status_str(s: &m::StatusType) -> String {
    match s {
        m::StatusType::Active => "Active".into(),
        m::StatusType::Inactive => "Inactive".into(),
        m::StatusType::Expired => "Expired".into(),
        m::StatusType::Unknown(v) => v.clone(),
    }
}

fn status_in(s: &str) -> m::StatusType {
    match s {
        "Active" => m::StatusType::Active,
        "Inactive" => m::StatusType::Inactive,
        "Expired" => m::StatusType::Expired,
        other => m::StatusType::Unknown(other.to_string()),
    }
}

// ------------------------------------------------------------------ the API

impl IamApi for Iam {
    async fn create_user(
        &self,
        ctx: &RequestContext,
        input: m::CreateUserRequest,
    ) -> std::result::Result<m::CreateUserResponse, AwsError> {
        let tags = tags_in(input.tags)?;
        let rec = UserRecord {
            name: input.user_name,
            user_id: ids::user_id(),
            path: input.path.unwrap_or_else(|| "/".into()),
            create_date: self.state.now_secs(),
            permissions_boundary: input.permissions_boundary,
            tags,
        };
        let account = ctx.account_id.clone();
        let stored = rec.clone();
        self.write(move |txn| {
            let key = records::user_key(&account, &stored.name);
            if txn.get(&key)?.is_some() {
                return Err(Fail::Aws(errors::entity_already_exists_exception(format!(
                    "User with name {} already exists.",
                    stored.name
                ))));
            }
            records::put(txn, &key, &stored)?;
            Ok(())
        })
        .await?;
        Ok(m::CreateUserResponse {
            user: Some(user_out(&ctx.account_id, &rec, true)),
        })
    }

    async fn get_user(
        &self,
        ctx: &RequestContext,
        input: m::GetUserRequest,
    ) -> std::result::Result<m::GetUserResponse, AwsError> {
        let name = match input.user_name {
            Some(n) => n,
            None => match implicit_user(ctx)? {
                Some(n) => n,
                None => {
                    // The account root is not an IAM user; IAM describes it by its ARN.
                    return Ok(m::GetUserResponse {
                        user: m::User {
                            path: "/".into(),
                            user_name: ROOT_USER_NAME.into(),
                            user_id: ctx.account_id.clone(),
                            arn: format!("arn:aws:iam::{}:root", ctx.account_id),
                            create_date: 0.0,
                            ..Default::default()
                        },
                    });
                }
            },
        };
        let u = self
            .state
            .user(&ctx.account_id, &name)
            .map_err(Fail::into_aws)?;
        Ok(m::GetUserResponse {
            user: user_out(&ctx.account_id, &u, true),
        })
    }

    async fn list_users(
        &self,
        ctx: &RequestContext,
        input: m::ListUsersRequest,
    ) -> std::result::Result<m::ListUsersResponse, AwsError> {
        let prefix = input.path_prefix.clone();
        let items = self.read(|snap| {
            let mut out = Vec::new();
            for (k, v) in records::scan_all(
                snap,
                &records::users_prefix(&ctx.account_id),
                MAX_LISTED_RECORDS,
            )? {
                let u: UserRecord = decode(&v)?;
                if path_matches(&u.path, prefix.as_deref()) {
                    out.push((k, user_out(&ctx.account_id, &u, false)));
                }
            }
            Ok(out)
        })?;
        let (users, truncated, marker) = paginate(items, input.marker.as_deref(), input.max_items);
        Ok(m::ListUsersResponse {
            users,
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn update_user(
        &self,
        ctx: &RequestContext,
        input: m::UpdateUserRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let old_key = records::user_key(&account, &input.user_name);
            let mut u: UserRecord = records::get(&*txn, &old_key)?
                .ok_or_else(|| Fail::Aws(no_such_user(&input.user_name)))?;
            if let Some(p) = &input.new_path {
                u.path = p.clone();
            }
            let Some(new_name) = input.new_user_name.clone().filter(|n| *n != u.name) else {
                records::put(txn, &old_key, &u)?;
                return Ok(());
            };
            let new_key = records::user_key(&account, &new_name);
            if new_key != old_key && txn.get(&new_key)?.is_some() {
                return Err(Fail::Aws(errors::entity_already_exists_exception(format!(
                    "User with name {new_name} already exists."
                ))));
            }
            // Move the user's inline policies, attachments and keys to the new name.
            for what in ['p', 'a', 'k'] {
                let old_prefix = records::child_prefix(&account, Owner::User, what, &u.name);
                for (child, value) in records::scan_all(&*txn, &old_prefix, MAX_LISTED_RECORDS)? {
                    let mut old = old_prefix.clone();
                    old.extend_from_slice(child.as_bytes());
                    txn.delete(&old)?;
                    txn.put(
                        &records::child_key(&account, Owner::User, what, &new_name, &child),
                        &value,
                    )?;
                    if what == 'k' {
                        let kk = records::access_key_key(&child);
                        if let Some(mut k) = records::get::<AccessKeyRecord>(&*txn, &kk)? {
                            k.user_name = Some(new_name.clone());
                            records::put(txn, &kk, &k)?;
                        }
                    }
                }
            }
            txn.delete(&old_key)?;
            u.name = new_name;
            records::put(txn, &new_key, &u)?;
            Ok(())
        })
        .await
    }

    async fn delete_user(
        &self,
        ctx: &RequestContext,
        input: m::DeleteUserRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let key = records::user_key(&account, &input.user_name);
            if txn.get(&key)?.is_none() {
                return Err(Fail::Aws(no_such_user(&input.user_name)));
            }
            refuse_if_children(
                &*txn,
                &account,
                Owner::User,
                &input.user_name,
                &[
                    (INLINE, MUST_DELETE_POLICIES),
                    (ATTACHED, MUST_DETACH_POLICIES),
                    (KEYS, MUST_DELETE_KEYS),
                ],
            )?;
            txn.delete(&key)?;
            Ok(())
        })
        .await
    }

    async fn tag_user(
        &self,
        ctx: &RequestContext,
        input: m::TagUserRequest,
    ) -> std::result::Result<(), AwsError> {
        self.tag(ctx, Owner::User, input.user_name, input.tags)
            .await
    }

    async fn untag_user(
        &self,
        ctx: &RequestContext,
        input: m::UntagUserRequest,
    ) -> std::result::Result<(), AwsError> {
        self.untag(ctx, Owner::User, input.user_name, input.tag_keys)
            .await
    }

    async fn list_user_tags(
        &self,
        ctx: &RequestContext,
        input: m::ListUserTagsRequest,
    ) -> std::result::Result<m::ListUserTagsResponse, AwsError> {
        let u = self
            .state
            .user(&ctx.account_id, &input.user_name)
            .map_err(Fail::into_aws)?;
        let (tags, truncated, marker) =
            Self::tags_page(&u.tags, input.marker.as_deref(), input.max_items);
        Ok(m::ListUserTagsResponse {
            tags,
            is_truncated: Some(truncated),
            marker,
        })
    }

    // ---------------------------------------------------------------- roles

    async fn create_role(
        &self,
        ctx: &RequestContext,
        input: m::CreateRoleRequest,
    ) -> std::result::Result<m::CreateRoleResponse, AwsError> {
        policy::validate(&input.assume_role_policy_document)?;
        if policy::counted_chars(&input.assume_role_policy_document)
            > policy::MAX_TRUST_POLICY_CHARS
        {
            return Err(errors::limit_exceeded_exception(format!(
                "Cannot exceed quota for ACLSizePerRole: {}",
                policy::MAX_TRUST_POLICY_CHARS
            )));
        }
        let tags = tags_in(input.tags)?;
        let rec = RoleRecord {
            name: input.role_name,
            role_id: ids::role_id(),
            path: input.path.unwrap_or_else(|| "/".into()),
            create_date: self.state.now_secs(),
            assume_role_policy_document: input.assume_role_policy_document,
            description: input.description,
            max_session_duration: input
                .max_session_duration
                .unwrap_or(DEFAULT_MAX_SESSION_DURATION_SECS),
            permissions_boundary: input.permissions_boundary,
            tags,
        };
        let account = ctx.account_id.clone();
        let stored = rec.clone();
        self.write(move |txn| {
            let key = records::role_key(&account, &stored.name);
            if txn.get(&key)?.is_some() {
                return Err(Fail::Aws(errors::entity_already_exists_exception(format!(
                    "Role with name {} already exists.",
                    stored.name
                ))));
            }
            records::put(txn, &key, &stored)?;
            Ok(())
        })
        .await?;
        Ok(m::CreateRoleResponse {
            role: role_out(&ctx.account_id, &rec, false),
        })
    }

    async fn get_role(
        &self,
        ctx: &RequestContext,
        input: m::GetRoleRequest,
    ) -> std::result::Result<m::GetRoleResponse, AwsError> {
        let r = self
            .state
            .role(&ctx.account_id, &input.role_name)
            .map_err(Fail::into_aws)?;
        Ok(m::GetRoleResponse {
            role: role_out(&ctx.account_id, &r, true),
        })
    }

    async fn list_roles(
        &self,
        ctx: &RequestContext,
        input: m::ListRolesRequest,
    ) -> std::result::Result<m::ListRolesResponse, AwsError> {
        let prefix = input.path_prefix.clone();
        let items = self.read(|snap| {
            let mut out = Vec::new();
            for (k, v) in records::scan_all(
                snap,
                &records::roles_prefix(&ctx.account_id),
                MAX_LISTED_RECORDS,
            )? {
                let r: RoleRecord = decode(&v)?;
                if path_matches(&r.path, prefix.as_deref()) {
                    let mut role = role_out(&ctx.account_id, &r, false);
                    // ListRoles leaves tags out, as IAM does.
                    role.tags = None;
                    out.push((k, role));
                }
            }
            Ok(out)
        })?;
        let (roles, truncated, marker) = paginate(items, input.marker.as_deref(), input.max_items);
        Ok(m::ListRolesResponse {
            roles,
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn update_role(
        &self,
        ctx: &RequestContext,
        input: m::UpdateRoleRequest,
    ) -> std::result::Result<m::UpdateRoleResponse, AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let key = records::role_key(&account, &input.role_name);
            let mut r: RoleRecord = records::get(&*txn, &key)?
                .ok_or_else(|| Fail::Aws(no_such_role(&input.role_name)))?;
            if let Some(d) = &input.description {
                r.description = Some(d.clone());
            }
            if let Some(s) = input.max_session_duration {
                r.max_session_duration = s;
            }
            records::put(txn, &key, &r)?;
            Ok(())
        })
        .await?;
        Ok(m::UpdateRoleResponse::default())
    }

    async fn update_assume_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::UpdateAssumeRolePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        policy::validate(&input.policy_document)?;
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let key = records::role_key(&account, &input.role_name);
            let mut r: RoleRecord = records::get(&*txn, &key)?
                .ok_or_else(|| Fail::Aws(no_such_role(&input.role_name)))?;
            r.assume_role_policy_document = input.policy_document.clone();
            records::put(txn, &key, &r)?;
            Ok(())
        })
        .await
    }

    async fn delete_role(
        &self,
        ctx: &RequestContext,
        input: m::DeleteRoleRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let key = records::role_key(&account, &input.role_name);
            if txn.get(&key)?.is_none() {
                return Err(Fail::Aws(no_such_role(&input.role_name)));
            }
            refuse_if_children(
                &*txn,
                &account,
                Owner::Role,
                &input.role_name,
                &[
                    (ATTACHED, MUST_DETACH_POLICIES),
                    (INLINE, MUST_DELETE_POLICIES),
                ],
            )?;
            txn.delete(&key)?;
            Ok(())
        })
        .await
    }

    async fn tag_role(
        &self,
        ctx: &RequestContext,
        input: m::TagRoleRequest,
    ) -> std::result::Result<(), AwsError> {
        self.tag(ctx, Owner::Role, input.role_name, input.tags)
            .await
    }

    async fn untag_role(
        &self,
        ctx: &RequestContext,
        input: m::UntagRoleRequest,
    ) -> std::result::Result<(), AwsError> {
        self.untag(ctx, Owner::Role, input.role_name, input.tag_keys)
            .await
    }

    async fn list_role_tags(
        &self,
        ctx: &RequestContext,
        input: m::ListRoleTagsRequest,
    ) -> std::result::Result<m::ListRoleTagsResponse, AwsError> {
        let r = self
            .state
            .role(&ctx.account_id, &input.role_name)
            .map_err(Fail::into_aws)?;
        let (tags, truncated, marker) =
            Self::tags_page(&r.tags, input.marker.as_deref(), input.max_items);
        Ok(m::ListRoleTagsResponse {
            tags,
            is_truncated: Some(truncated),
            marker,
        })
    }

    // ---------------------------------------------------------------- inline policies

    async fn put_user_policy(
        &self,
        ctx: &RequestContext,
        input: m::PutUserPolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.put_inline(
            ctx,
            Owner::User,
            input.user_name,
            input.policy_name,
            input.policy_document,
        )
        .await
    }

    async fn get_user_policy(
        &self,
        ctx: &RequestContext,
        input: m::GetUserPolicyRequest,
    ) -> std::result::Result<m::GetUserPolicyResponse, AwsError> {
        let (user_name, doc) =
            self.get_inline(ctx, Owner::User, &input.user_name, &input.policy_name)?;
        Ok(m::GetUserPolicyResponse {
            user_name,
            policy_name: input.policy_name,
            policy_document: policy::url_encode(&doc),
        })
    }

    async fn list_user_policies(
        &self,
        ctx: &RequestContext,
        input: m::ListUserPoliciesRequest,
    ) -> std::result::Result<m::ListUserPoliciesResponse, AwsError> {
        let (policy_names, truncated, marker) = self.list_inline(
            ctx,
            Owner::User,
            &input.user_name,
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(m::ListUserPoliciesResponse {
            policy_names,
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn delete_user_policy(
        &self,
        ctx: &RequestContext,
        input: m::DeleteUserPolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.delete_inline(ctx, Owner::User, input.user_name, input.policy_name)
            .await
    }

    async fn put_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::PutRolePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.put_inline(
            ctx,
            Owner::Role,
            input.role_name,
            input.policy_name,
            input.policy_document,
        )
        .await
    }

    async fn get_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::GetRolePolicyRequest,
    ) -> std::result::Result<m::GetRolePolicyResponse, AwsError> {
        let (role_name, doc) =
            self.get_inline(ctx, Owner::Role, &input.role_name, &input.policy_name)?;
        Ok(m::GetRolePolicyResponse {
            role_name,
            policy_name: input.policy_name,
            policy_document: policy::url_encode(&doc),
        })
    }

    async fn list_role_policies(
        &self,
        ctx: &RequestContext,
        input: m::ListRolePoliciesRequest,
    ) -> std::result::Result<m::ListRolePoliciesResponse, AwsError> {
        let (policy_names, truncated, marker) = self.list_inline(
            ctx,
            Owner::Role,
            &input.role_name,
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(m::ListRolePoliciesResponse {
            policy_names,
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn delete_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::DeleteRolePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.delete_inline(ctx, Owner::Role, input.role_name, input.policy_name)
            .await
    }

    // ---------------------------------------------------------------- managed policies

    async fn create_policy(
        &self,
        ctx: &RequestContext,
        input: m::CreatePolicyRequest,
    ) -> std::result::Result<m::CreatePolicyResponse, AwsError> {
        policy::validate(&input.policy_document)?;
        if policy::counted_chars(&input.policy_document) > policy::MAX_MANAGED_POLICY_CHARS {
            return Err(errors::limit_exceeded_exception(format!(
                "Cannot exceed quota for PolicySize: {}",
                policy::MAX_MANAGED_POLICY_CHARS
            )));
        }
        let now = self.state.now_secs();
        let rec = PolicyRecord {
            name: input.policy_name,
            policy_id: ids::policy_id(),
            path: input.path.unwrap_or_else(|| "/".into()),
            description: input.description,
            create_date: now,
            update_date: now,
            default_version_id: "v1".into(),
            next_version: 2,
            versions: vec![PolicyVersionRecord {
                version_id: "v1".into(),
                document: input.policy_document,
                create_date: now,
            }],
            attachment_count: 0,
            tags: tags_in(input.tags)?,
        };
        let account = ctx.account_id.clone();
        let stored = rec.clone();
        self.write(move |txn| {
            let key = records::policy_key(&account, &stored.name);
            if txn.get(&key)?.is_some() {
                return Err(Fail::Aws(errors::entity_already_exists_exception(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    stored.name
                ))));
            }
            records::put(txn, &key, &stored)?;
            Ok(())
        })
        .await?;
        Ok(m::CreatePolicyResponse {
            policy: Some(policy_out(&ctx.account_id, &rec, true)),
        })
    }

    async fn get_policy(
        &self,
        ctx: &RequestContext,
        input: m::GetPolicyRequest,
    ) -> std::result::Result<m::GetPolicyResponse, AwsError> {
        let p = self.read(|snap| load_policy(snap, &ctx.account_id, &input.policy_arn))?;
        match p {
            Some(p) => Ok(m::GetPolicyResponse {
                policy: Some(policy_out(&ctx.account_id, &p, true)),
            }),
            None => Err(policy_not_found(&input.policy_arn)),
        }
    }

    async fn list_policies(
        &self,
        ctx: &RequestContext,
        input: m::ListPoliciesRequest,
    ) -> std::result::Result<m::ListPoliciesResponse, AwsError> {
        // Only customer managed policies are stored; the AWS scope is empty here.
        let aws_only = matches!(input.scope, Some(m::PolicyScopeType::Aws));
        let only_attached = input.only_attached.unwrap_or(false);
        let prefix = input.path_prefix.clone();
        let items = if aws_only {
            Vec::new()
        } else {
            self.read(|snap| {
                let mut out = Vec::new();
                for (k, v) in records::scan_all(
                    snap,
                    &records::policies_prefix(&ctx.account_id),
                    MAX_LISTED_RECORDS,
                )? {
                    let p: PolicyRecord = decode(&v)?;
                    if path_matches(&p.path, prefix.as_deref())
                        && (!only_attached || p.attachment_count > 0)
                    {
                        out.push((k, policy_out(&ctx.account_id, &p, false)));
                    }
                }
                Ok(out)
            })?
        };
        let (policies, truncated, marker) =
            paginate(items, input.marker.as_deref(), input.max_items);
        Ok(m::ListPoliciesResponse {
            policies: Some(policies),
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn delete_policy(
        &self,
        ctx: &RequestContext,
        input: m::DeletePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let p = load_policy(&*txn, &account, &input.policy_arn)?
                .ok_or_else(|| Fail::Aws(policy_not_found(&input.policy_arn)))?;
            if p.attachment_count > 0 {
                return Err(Fail::Aws(errors::delete_conflict_exception(
                    "Cannot delete a policy attached to entities.",
                )));
            }
            txn.delete(&records::policy_key(&account, &p.name))?;
            Ok(())
        })
        .await
    }

    async fn create_policy_version(
        &self,
        ctx: &RequestContext,
        input: m::CreatePolicyVersionRequest,
    ) -> std::result::Result<m::CreatePolicyVersionResponse, AwsError> {
        policy::validate(&input.policy_document)?;
        if policy::counted_chars(&input.policy_document) > policy::MAX_MANAGED_POLICY_CHARS {
            return Err(errors::limit_exceeded_exception(format!(
                "Cannot exceed quota for PolicySize: {}",
                policy::MAX_MANAGED_POLICY_CHARS
            )));
        }
        let account = ctx.account_id.clone();
        let now = self.state.now_secs();
        self.write(move |txn| {
            let mut p = load_policy(&*txn, &account, &input.policy_arn)?.ok_or_else(|| Fail::Aws(policy_not_found(&input.policy_arn)))?;
            if p.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(Fail::Aws(errors::limit_exceeded_exception(
                    "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
                )));
            }
            let v = PolicyVersionRecord {
                version_id: format!("v{}", p.next_version),
                document: input.policy_document.clone(),
                create_date: now,
            };
            p.next_version = p.next_version.saturating_add(1);
            if input.set_as_default.unwrap_or(false) {
                p.default_version_id = v.version_id.clone();
            }
            p.update_date = now;
            p.versions.push(v.clone());
            records::put(txn, &records::policy_key(&account, &p.name), &p)?;
            Ok(m::CreatePolicyVersionResponse {
                policy_version: Some(version_out(&p, &v, false)),
            })
        })
        .await
    }

    async fn get_policy_version(
        &self,
        ctx: &RequestContext,
        input: m::GetPolicyVersionRequest,
    ) -> std::result::Result<m::GetPolicyVersionResponse, AwsError> {
        let p = self.read(|snap| load_policy(snap, &ctx.account_id, &input.policy_arn))?;
        let found = p.as_ref().and_then(|p| {
            p.versions
                .iter()
                .find(|v| v.version_id == input.version_id)
                .map(|v| (p, v))
        });
        match found {
            Some((p, v)) => Ok(m::GetPolicyVersionResponse {
                policy_version: Some(version_out(p, v, true)),
            }),
            None => Err(errors::no_such_entity_exception(format!(
                "Policy {} version {} does not exist or is not attachable.",
                input.policy_arn, input.version_id
            ))),
        }
    }

    async fn list_policy_versions(
        &self,
        ctx: &RequestContext,
        input: m::ListPolicyVersionsRequest,
    ) -> std::result::Result<m::ListPolicyVersionsResponse, AwsError> {
        let p = self
            .read(|snap| load_policy(snap, &ctx.account_id, &input.policy_arn))?
            .ok_or_else(|| policy_not_found(&input.policy_arn))?;
        // Newest first, as IAM lists them.
        let items = p
            .versions
            .iter()
            .rev()
            .enumerate()
            .map(|(i, v)| (format!("{i:04}"), version_out(&p, v, false)))
            .collect();
        let (versions, truncated, marker) =
            paginate(items, input.marker.as_deref(), input.max_items);
        Ok(m::ListPolicyVersionsResponse {
            versions: Some(versions),
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn delete_policy_version(
        &self,
        ctx: &RequestContext,
        input: m::DeletePolicyVersionRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            let mut p = load_policy(&*txn, &account, &input.policy_arn)?
                .ok_or_else(|| Fail::Aws(policy_not_found(&input.policy_arn)))?;
            if !p.versions.iter().any(|v| v.version_id == input.version_id) {
                return Err(Fail::Aws(errors::no_such_entity_exception(format!(
                    "Policy {} version {} does not exist or is not attachable.",
                    input.policy_arn, input.version_id
                ))));
            }
            if p.default_version_id == input.version_id {
                return Err(Fail::Aws(errors::delete_conflict_exception(
                    "Cannot delete the default version of a policy.",
                )));
            }
            p.versions.retain(|v| v.version_id != input.version_id);
            records::put(txn, &records::policy_key(&account, &p.name), &p)?;
            Ok(())
        })
        .await
    }

    async fn set_default_policy_version(
        &self,
        ctx: &RequestContext,
        input: m::SetDefaultPolicyVersionRequest,
    ) -> std::result::Result<(), AwsError> {
        let account = ctx.account_id.clone();
        let now = self.state.now_secs();
        self.write(move |txn| {
            let mut p = load_policy(&*txn, &account, &input.policy_arn)?
                .ok_or_else(|| Fail::Aws(policy_not_found(&input.policy_arn)))?;
            if !p.versions.iter().any(|v| v.version_id == input.version_id) {
                return Err(Fail::Aws(errors::no_such_entity_exception(format!(
                    "Policy {} version {} does not exist or is not attachable.",
                    input.policy_arn, input.version_id
                ))));
            }
            p.default_version_id = input.version_id.clone();
            p.update_date = now;
            records::put(txn, &records::policy_key(&account, &p.name), &p)?;
            Ok(())
        })
        .await
    }

    async fn attach_user_policy(
        &self,
        ctx: &RequestContext,
        input: m::AttachUserPolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.attach(ctx, Owner::User, input.user_name, input.policy_arn)
            .await
    }

    async fn detach_user_policy(
        &self,
        ctx: &RequestContext,
        input: m::DetachUserPolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.detach(ctx, Owner::User, input.user_name, input.policy_arn)
            .await
    }

    async fn list_attached_user_policies(
        &self,
        ctx: &RequestContext,
        input: m::ListAttachedUserPoliciesRequest,
    ) -> std::result::Result<m::ListAttachedUserPoliciesResponse, AwsError> {
        let (attached, truncated, marker) = self.list_attached(
            ctx,
            Owner::User,
            &input.user_name,
            input.path_prefix.as_deref(),
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(m::ListAttachedUserPoliciesResponse {
            attached_policies: Some(attached),
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn attach_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::AttachRolePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.attach(ctx, Owner::Role, input.role_name, input.policy_arn)
            .await
    }

    async fn detach_role_policy(
        &self,
        ctx: &RequestContext,
        input: m::DetachRolePolicyRequest,
    ) -> std::result::Result<(), AwsError> {
        self.detach(ctx, Owner::Role, input.role_name, input.policy_arn)
            .await
    }

    async fn list_attached_role_policies(
        &self,
        ctx: &RequestContext,
        input: m::ListAttachedRolePoliciesRequest,
    ) -> std::result::Result<m::ListAttachedRolePoliciesResponse, AwsError> {
        let (attached, truncated, marker) = self.list_attached(
            ctx,
            Owner::Role,
            &input.role_name,
            input.path_prefix.as_deref(),
            input.marker.as_deref(),
            input.max_items,
        )?;
        Ok(m::ListAttachedRolePoliciesResponse {
            attached_policies: Some(attached),
            is_truncated: Some(truncated),
            marker,
        })
    }

    // ---------------------------------------------------------------- access keys

    async fn create_access_key(
        &self,
        ctx: &RequestContext,
        input: m::CreateAccessKeyRequest,
    ) -> std::result::Result<m::CreateAccessKeyResponse, AwsError> {
        let owner = Self::key_owner(ctx, input.user_name)?;
        let account = ctx.account_id.clone();
        let now = self.state.now_secs();
        let rec = self
            .write(move |txn| {
                let (user_name, user_id) = match &owner {
                    Some(name) => {
                        let u: UserRecord =
                            records::get(&*txn, &records::user_key(&account, name))?
                                .ok_or_else(|| Fail::Aws(no_such_user(name)))?;
                        (Some(u.name), Some(u.user_id))
                    }
                    None => (None, None),
                };
                let existing = records::scan(
                    &*txn,
                    &key_index_prefix(&account, owner.as_deref()),
                    None,
                    MAX_ACCESS_KEYS_PER_USER + 1,
                )?;
                if existing.len() >= MAX_ACCESS_KEYS_PER_USER {
                    return Err(Fail::Aws(errors::limit_exceeded_exception(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                    ))));
                }
                let rec = AccessKeyRecord {
                    access_key_id: ids::access_key_id(),
                    secret_access_key: ids::secret_access_key(),
                    account_id: account.clone(),
                    user_name,
                    user_id,
                    status: "Active".into(),
                    create_date: now,
                };
                records::put(txn, &records::access_key_key(&rec.access_key_id), &rec)?;
                records::put(
                    txn,
                    &key_index(&account, owner.as_deref(), &rec.access_key_id),
                    &"",
                )?;
                Ok(rec)
            })
            .await?;
        Ok(m::CreateAccessKeyResponse {
            access_key: m::AccessKey {
                user_name: rec
                    .user_name
                    .clone()
                    .unwrap_or_else(|| ROOT_USER_NAME.into()),
                access_key_id: rec.access_key_id,
                status: m::StatusType::Active,
                secret_access_key: rec.secret_access_key,
                create_date: Some(rec.create_date),
            },
        })
    }

    async fn list_access_keys(
        &self,
        ctx: &RequestContext,
        input: m::ListAccessKeysRequest,
    ) -> std::result::Result<m::ListAccessKeysResponse, AwsError> {
        let owner = Self::key_owner(ctx, input.user_name)?;
        let account = &ctx.account_id;
        let items = self.read(|snap| {
            let display = match &owner {
                Some(name) => Some(
                    records::get::<UserRecord>(snap, &records::user_key(account, name))?
                        .ok_or_else(|| Fail::Aws(no_such_user(name)))?
                        .name,
                ),
                None => None,
            };
            let mut out = Vec::new();
            for (akid, _) in records::scan_all(
                snap,
                &key_index_prefix(account, owner.as_deref()),
                MAX_LISTED_RECORDS,
            )? {
                if let Some(k) =
                    records::get::<AccessKeyRecord>(snap, &records::access_key_key(&akid))?
                {
                    out.push((
                        akid,
                        m::AccessKeyMetadata {
                            user_name: Some(
                                display.clone().unwrap_or_else(|| ROOT_USER_NAME.into()),
                            ),
                            access_key_id: Some(k.access_key_id),
                            status: Some(status_in(&k.status)),
                            create_date: Some(k.create_date),
                        },
                    ));
                }
            }
            Ok(out)
        })?;
        let (access_key_metadata, truncated, marker) =
            paginate(items, input.marker.as_deref(), input.max_items);
        Ok(m::ListAccessKeysResponse {
            access_key_metadata,
            is_truncated: Some(truncated),
            marker,
        })
    }

    async fn update_access_key(
        &self,
        ctx: &RequestContext,
        input: m::UpdateAccessKeyRequest,
    ) -> std::result::Result<(), AwsError> {
        let owner = Self::key_owner(ctx, input.user_name)?;
        let account = ctx.account_id.clone();
        let status = status_str(&input.status);
        self.write(move |txn| {
            if let Some(name) = &owner {
                check_owner_exists(&*txn, &account, Owner::User, name)?;
            }
            let key = records::access_key_key(&input.access_key_id);
            let mut k: AccessKeyRecord = records::get(&*txn, &key)?
                .filter(|k: &AccessKeyRecord| {
                    k.account_id == account && txn_owner_matches(k, owner.as_deref())
                })
                .ok_or_else(|| Fail::Aws(no_such_key(&input.access_key_id)))?;
            k.status = status.clone();
            records::put(txn, &key, &k)?;
            Ok(())
        })
        .await
    }

    async fn delete_access_key(
        &self,
        ctx: &RequestContext,
        input: m::DeleteAccessKeyRequest,
    ) -> std::result::Result<(), AwsError> {
        let owner = Self::key_owner(ctx, input.user_name)?;
        let account = ctx.account_id.clone();
        self.write(move |txn| {
            if let Some(name) = &owner {
                check_owner_exists(&*txn, &account, Owner::User, name)?;
            }
            let key = records::access_key_key(&input.access_key_id);
            let k: AccessKeyRecord = records::get(&*txn, &key)?
                .filter(|k: &AccessKeyRecord| {
                    k.account_id == account && txn_owner_matches(k, owner.as_deref())
                })
                .ok_or_else(|| Fail::Aws(no_such_key(&input.access_key_id)))?;
            txn.delete(&key)?;
            txn.delete(&key_index(
                &account,
                k.user_name.as_deref(),
                &k.access_key_id,
            ))?;
            Ok(())
        })
        .await
    }

    async fn get_access_key_last_used(
        &self,
        ctx: &RequestContext,
        input: m::GetAccessKeyLastUsedRequest,
    ) -> std::result::Result<m::GetAccessKeyLastUsedResponse, AwsError> {
        let k: Option<AccessKeyRecord> = self.read(|snap| {
            Ok(records::get(
                snap,
                &records::access_key_key(&input.access_key_id),
            )?)
        })?;
        let k = k
            .filter(|k| k.account_id == ctx.account_id)
            .ok_or_else(|| no_such_key(&input.access_key_id))?;
        // Use is not tracked yet; IAM reports never-used keys this way.
        Ok(m::GetAccessKeyLastUsedResponse {
            user_name: Some(k.user_name.unwrap_or_else(|| ROOT_USER_NAME.into())),
            access_key_last_used: Some(m::AccessKeyLastUsed {
                last_used_date: None,
                service_name: "N/A".into(),
                region: "N/A".into(),
            }),
        })
    }
}

/// Whether a key belongs to the named user (`None`: the account root).
fn txn_owner_matches(k: &AccessKeyRecord, owner: Option<&str>) -> bool {
    match (owner, &k.user_name) {
        (None, None) => true,
        (Some(o), Some(u)) => o.eq_ignore_ascii_case(u),
        _ => false,
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;

/// Child kinds `DeleteUser`/`DeleteRole` refuse to orphan (see `records` for the layout).
const INLINE: char = 'p';
const ATTACHED: char = 'a';
const KEYS: char = 'k';
const MUST_DELETE_POLICIES: &str = "Cannot delete entity, must delete policies first.";
const MUST_DETACH_POLICIES: &str = "Cannot delete entity, must detach all policies first.";
const MUST_DELETE_KEYS: &str = "Cannot delete entity, must delete access keys first.";

/// AWS refuses to delete a user or role that still has children, reporting the first kind
/// found in its own order (which differs between users and roles), hence the ordered list.
fn refuse_if_children(
    txn: &(impl nimbus_store::ReadTxn + ?Sized),
    account: &str,
    owner: Owner,
    name: &str,
    checks: &[(char, &str)],
) -> std::result::Result<(), Fail> {
    for &(kind, message) in checks {
        if records::any_under(txn, &records::child_prefix(account, owner, kind, name))? {
            return Err(Fail::Aws(errors::delete_conflict_exception(message)));
        }
    }
    Ok(())
}
