//! The `resources` table, and the bot's switch in `profiles`.

use sqlx::FromRow;

use super::{
    Store, StoreError,
    states::{Action, Desired, State, Switch},
};

/// A stored resource. Its secrets stay sealed; `secret_masks` and `status_info` are JSON.
#[derive(Clone, FromRow)]
pub struct ResourceRecord {
    /// The resource's id.
    pub id: String,
    /// Its owner.
    pub user_id: String,
    /// Its provider's name.
    pub provider: String,
    /// The name its owner gave it.
    pub name: String,
    /// The plain settings, a JSON object.
    pub meta_json: String,
    /// The secret settings, a JSON object sealed by the platform keyring; `None` when none.
    pub secrets_sealed: Option<String>,
    /// The secrets masked, a JSON object of name to mask.
    pub secret_masks: String,
    /// A keyed hash of the external account it drives; `None` when the provider names none.
    pub identity_hash: Option<String>,
    /// What its owner wants.
    #[sqlx(try_from = "String")]
    pub desired_state: Desired,
    /// Grows with every start.
    pub generation: i64,
    /// What it does.
    #[sqlx(try_from = "String")]
    pub state: State,
    /// The state in words.
    pub state_detail: String,
    /// The state's reason code; empty when none.
    pub state_reason: String,
    /// In error, what the user can do.
    #[sqlx(try_from = "String")]
    pub state_action: Action,
    /// When the state last changed, in Unix milliseconds.
    pub state_change_time: i64,
    /// What the edge last reported about it, a JSON array.
    pub status_info: String,
    /// Creation time, in Unix milliseconds.
    pub create_time: i64,
    /// When its owner last changed it, in Unix milliseconds.
    pub update_time: i64,
}

// Even sealed, the secrets stay out of log lines: their masks say all a reader needs.
impl std::fmt::Debug for ResourceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("name", &self.name)
            .field("meta_json", &self.meta_json)
            .field("secrets_sealed", &self.secrets_sealed.as_ref().map(|_| "<redacted>"))
            .field("secret_masks", &self.secret_masks)
            .field("desired_state", &self.desired_state)
            .field("generation", &self.generation)
            .field("state", &self.state)
            .field("state_detail", &self.state_detail)
            .field("state_change_time", &self.state_change_time)
            .finish_non_exhaustive()
    }
}

/// A resource's observed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedState {
    /// What it does.
    pub state: State,
    /// The state in words.
    pub detail: String,
    /// The reason code; empty when none.
    pub reason: String,
    /// In error, what the user can do.
    pub action: Action,
}

/// What the bot manager needs to know of a resource to decide whether it runs.
#[derive(Clone, Debug, FromRow)]
pub struct ResourceRun {
    /// The resource's id.
    pub id: String,
    /// Its owner.
    pub user_id: String,
    /// Its provider's name.
    pub provider: String,
    /// What its owner wants.
    #[sqlx(try_from = "String")]
    pub desired_state: Desired,
    /// Its owner's bot switch.
    #[sqlx(rename = "bot_enabled", try_from = "i64")]
    pub bot: Switch,
}

impl ResourceRun {
    /// Whether it should run: it is active and its owner's bot is on.
    pub fn should_run(&self) -> bool {
        self.desired_state == Desired::Active && self.bot == Switch::On
    }
}

const SELECT_RESOURCE: &str = "SELECT id, user_id, provider, name, meta_json, secrets_sealed, secret_masks, \
     identity_hash, desired_state, generation, state, state_detail, state_reason, state_action, state_change_time, \
     status_info, create_time, update_time FROM resources";

const SELECT_RUN: &str = "SELECT r.id, r.user_id, r.provider, r.desired_state, p.bot_enabled FROM resources r \
     JOIN profiles p ON p.user_id = r.user_id";

impl Store {
    /// Stores a new resource unless its user has `cap` resources already; returns whether it
    /// was stored. The count and the insert are one step, as in [`Store::insert_api_token`]. A
    /// second resource with the same identity hash is a [`StoreError::Conflict`].
    pub async fn insert_resource(&self, r: &ResourceRecord, cap: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, &r.user_id).await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE user_id = $1")
            .bind(&r.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= cap {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO resources (id, user_id, provider, name, meta_json, secrets_sealed, secret_masks, \
             identity_hash, desired_state, generation, state, state_detail, state_reason, state_action, \
             state_change_time, status_info, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&r.id)
        .bind(&r.user_id)
        .bind(&r.provider)
        .bind(&r.name)
        .bind(&r.meta_json)
        .bind(&r.secrets_sealed)
        .bind(&r.secret_masks)
        .bind(&r.identity_hash)
        .bind(r.desired_state.as_str())
        .bind(r.generation)
        .bind(r.state.as_str())
        .bind(&r.state_detail)
        .bind(&r.state_reason)
        .bind(r.state_action.as_str())
        .bind(r.state_change_time)
        .bind(&r.status_info)
        .bind(r.create_time)
        .bind(r.update_time)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A resource of this user.
    pub async fn resource(&self, user_id: &str, id: &str) -> Result<Option<ResourceRecord>, StoreError> {
        let sql = format!("{SELECT_RESOURCE} WHERE id = $1 AND user_id = $2");
        Ok(sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(self.pool()).await?)
    }

    /// A resource, whoever owns it.
    pub async fn resource_by_id(&self, id: &str) -> Result<Option<ResourceRecord>, StoreError> {
        let sql = format!("{SELECT_RESOURCE} WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Up to `limit` resources of a user, oldest first, after the resource `after_id`, of one
    /// provider or (with an empty `provider`) of all.
    pub async fn list_resources(
        &self,
        user_id: &str,
        provider: &str,
        after_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ResourceRecord>, StoreError> {
        let sql = format!(
            "{SELECT_RESOURCE} WHERE user_id = $1 AND ($2 = '' OR provider = $2) AND ($3 = '' OR id > $3) \
             ORDER BY id LIMIT $4"
        );
        Ok(sqlx::query_as(&sql)
            .bind(user_id)
            .bind(provider)
            .bind(after_id.unwrap_or(""))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Writes the fields its owner edits: name, settings and secrets.
    pub async fn update_resource_settings(&self, r: &ResourceRecord) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE resources SET name = $1, meta_json = $2, secrets_sealed = $3, secret_masks = $4, \
             identity_hash = $5, update_time = $6 WHERE id = $7 AND user_id = $8",
        )
        .bind(&r.name)
        .bind(&r.meta_json)
        .bind(&r.secrets_sealed)
        .bind(&r.secret_masks)
        .bind(&r.identity_hash)
        .bind(r.update_time)
        .bind(&r.id)
        .bind(&r.user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Sets a resource's desired state; returns whether the user has that resource.
    pub async fn set_desired_state(
        &self,
        user_id: &str,
        id: &str,
        desired: Desired,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE resources SET desired_state = $1, update_time = $2 WHERE id = $3 AND user_id = $4")
                .bind(desired.as_str())
                .bind(now)
                .bind(id)
                .bind(user_id)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes a resource of this user with its secrets; returns whether there was one.
    pub async fn delete_resource(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM resources WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records a resource's observed state, changing its change time only when the state,
    /// detail, reason or action really changed; returns whether it changed.
    pub async fn set_observed_state(&self, id: &str, observed: &ObservedState, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE resources SET state = $1, state_detail = $2, state_reason = $3, state_action = $4, \
             state_change_time = $5 WHERE id = $6 AND (state <> $1 OR state_detail <> $2 OR state_reason <> $3 \
             OR state_action <> $4)",
        )
        .bind(observed.state.as_str())
        .bind(&observed.detail)
        .bind(&observed.reason)
        .bind(observed.action.as_str())
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records what the edge reported about a resource, a JSON array.
    pub async fn set_status_info(&self, id: &str, status_info: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE resources SET status_info = $1 WHERE id = $2")
            .bind(status_info)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes the next generation of a resource for a start; `None` when it no longer exists.
    pub async fn next_generation(&self, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("UPDATE resources SET generation = generation + 1 WHERE id = $1 RETURNING generation")
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Whether each resource should run, for every resource.
    pub async fn resource_runs(&self) -> Result<Vec<ResourceRun>, StoreError> {
        Ok(sqlx::query_as(SELECT_RUN).fetch_all(self.pool()).await?)
    }

    /// Whether one resource should run; `None` when it no longer exists.
    pub async fn resource_run(&self, id: &str) -> Result<Option<ResourceRun>, StoreError> {
        let sql = format!("{SELECT_RUN} WHERE r.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// Whether each resource of one provider should run.
    pub async fn provider_resource_runs(&self, provider: &str) -> Result<Vec<ResourceRun>, StoreError> {
        let sql = format!("{SELECT_RUN} WHERE r.provider = $1");
        Ok(sqlx::query_as(&sql).bind(provider).fetch_all(self.pool()).await?)
    }

    /// Whether each resource of one user should run.
    pub async fn user_resource_runs(&self, user_id: &str) -> Result<Vec<ResourceRun>, StoreError> {
        let sql = format!("{SELECT_RUN} WHERE r.user_id = $1");
        Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(self.pool()).await?)
    }

    /// The user's bot switch, and when it was last switched (`None`: never).
    pub async fn bot_switch(&self, user_id: &str) -> Result<Option<(Switch, Option<i64>)>, StoreError> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT bot_enabled, bot_switch_time FROM profiles WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|(stored, time)| {
            Ok((Switch::try_from(stored).map_err(|err| StoreError::Corrupt(err.to_string()))?, time))
        })
        .transpose()
    }

    /// Switches the user's bot on or off; returns whether the switch moved.
    pub async fn set_bot_switch(&self, user_id: &str, switch: Switch, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE profiles SET bot_enabled = $1, bot_switch_time = $2 WHERE user_id = $3 AND bot_enabled <> $1",
        )
        .bind(i64::from(switch))
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
