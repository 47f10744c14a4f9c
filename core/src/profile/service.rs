//! `assistchat.v1.ProfileService` over [`Profiles`]: decode, check the caller, call the domain,
//! encode.

use std::sync::Arc;

use assistchat_proto::v1::{
    AiMode as ProtoAiMode, ClearOpenAiKeyRequest, ClearOpenAiKeyResponse, DeleteAccountRequest, DeleteAccountResponse,
    ExportMyDataRequest, ExportMyDataResponse, GetProfileRequest, GetProfileResponse, OpenAiKeyCheck, OpenAiKeyState,
    Profile, SetOpenAiKeyRequest, SetOpenAiKeyResponse, TestOpenAiKeyRequest, TestOpenAiKeyResponse,
    UpdateProfileRequest, UpdateProfileResponse, profile_service_server::ProfileService,
};
use tonic::{Request, Response, Status};

use super::{AiMode, KeyCheck, ProfileChanges, Profiles, own_data::OwnData};
use crate::{
    auth::Accounts,
    error::{Error, Result},
    rpc::{caller, timestamp},
    store::profiles::ProfileRecord,
};

/// The gRPC face of [`Profiles`].
pub struct ProfileApi {
    /// Finds out who is calling.
    accounts: Arc<Accounts>,
    /// The domain.
    profiles: Arc<Profiles>,
    /// Everything an account owns, exported or deleted.
    own_data: Arc<OwnData>,
}

impl ProfileApi {
    /// The service over `profiles` and `own_data`, authenticating with `accounts`.
    pub fn new(accounts: Arc<Accounts>, profiles: Arc<Profiles>, own_data: Arc<OwnData>) -> Self {
        Self { accounts, profiles, own_data }
    }
}

fn profile(record: ProfileRecord) -> Profile {
    let ai_mode = match AiMode::from_stored(&record.ai_mode) {
        Some(AiMode::Managed) => ProtoAiMode::Managed,
        Some(AiMode::Byok) => ProtoAiMode::Byok,
        None => ProtoAiMode::Unspecified,
    };
    let key_state = match record.openai_key_state.as_str() {
        "missing" => OpenAiKeyState::Missing,
        "set" => OpenAiKeyState::Set,
        "rejected" => OpenAiKeyState::Rejected,
        _ => OpenAiKeyState::Unspecified,
    };
    Profile {
        user_id: record.user_id,
        email: record.email,
        display_name: record.display_name,
        language_code: record.language_code,
        ai_mode: ai_mode.into(),
        openai_key_mask: record.openai_key_mask,
        openai_key_state: key_state.into(),
        openai_base_url: record.openai_base_url,
        openai_model: record.openai_model,
        update_time: Some(timestamp(record.update_time)),
    }
}

/// The changes an update asks for: the fields its mask names, or with no mask every field
/// given a value.
fn changes(update: Profile, mask: &[String]) -> Result<ProfileChanges> {
    let ai_mode = match ProtoAiMode::try_from(update.ai_mode) {
        Ok(ProtoAiMode::Managed) => Some(AiMode::Managed),
        Ok(ProtoAiMode::Byok) => Some(AiMode::Byok),
        _ => None,
    };
    if mask.is_empty() {
        let given = |text: String| (!text.is_empty()).then_some(text);
        return Ok(ProfileChanges {
            display_name: given(update.display_name),
            language_code: given(update.language_code),
            ai_mode,
            openai_base_url: given(update.openai_base_url),
            openai_model: given(update.openai_model),
        });
    }
    let mut changes = ProfileChanges::default();
    for path in mask {
        match path.as_str() {
            "display_name" => changes.display_name = Some(update.display_name.clone()),
            "language_code" => changes.language_code = Some(update.language_code.clone()),
            "ai_mode" => {
                changes.ai_mode = Some(
                    ai_mode
                        .ok_or_else(|| Error::invalid("profile.ai_mode", "choose AI_MODE_MANAGED or AI_MODE_BYOK"))?,
                );
            }
            "openai_base_url" => changes.openai_base_url = Some(update.openai_base_url.clone()),
            "openai_model" => changes.openai_model = Some(update.openai_model.clone()),
            "user_id" | "email" | "openai_key_mask" | "openai_key_state" | "update_time" => {
                return Err(Error::invalid("update_mask", format!("{path} is read only; leave it out of the mask")));
            }
            other => {
                return Err(Error::invalid(
                    "update_mask",
                    format!(
                        "{other:?} is not a field of Profile; use display_name, language_code, ai_mode, openai_base_url or openai_model"
                    ),
                ));
            }
        }
    }
    Ok(changes)
}

#[tonic::async_trait]
impl ProfileService for ProfileApi {
    #[tracing::instrument(skip_all)]
    async fn get_profile(&self, request: Request<GetProfileRequest>) -> Result<Response<GetProfileResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let record = self.profiles.get(&caller.user_id).await?;
        Ok(Response::new(GetProfileResponse { profile: Some(profile(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_profile(
        &self,
        request: Request<UpdateProfileRequest>,
    ) -> Result<Response<UpdateProfileResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        let update = input.profile.ok_or_else(|| Error::invalid("profile", "send the profile with the new values"))?;
        let mask = input.update_mask.map(|mask| mask.paths).unwrap_or_default();
        let record = self.profiles.update(&caller.user_id, &changes(update, &mask)?).await?;
        Ok(Response::new(UpdateProfileResponse { profile: Some(profile(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_open_ai_key(
        &self,
        request: Request<SetOpenAiKeyRequest>,
    ) -> Result<Response<SetOpenAiKeyResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let (record, warning) = self.profiles.set_openai_key(&caller.user_id, &request.get_ref().api_key).await?;
        Ok(Response::new(SetOpenAiKeyResponse { profile: Some(profile(record)), warning }))
    }

    #[tracing::instrument(skip_all)]
    async fn test_open_ai_key(
        &self,
        request: Request<TestOpenAiKeyRequest>,
    ) -> Result<Response<TestOpenAiKeyResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let (check, detail, record) = self.profiles.test_openai_key(&caller.user_id).await?;
        let result = match check {
            KeyCheck::Accepted => OpenAiKeyCheck::Accepted,
            KeyCheck::Rejected => OpenAiKeyCheck::Rejected,
            KeyCheck::Unreachable => OpenAiKeyCheck::Unreachable,
            KeyCheck::Missing => OpenAiKeyCheck::Missing,
        };
        Ok(Response::new(TestOpenAiKeyResponse { result: result.into(), detail, profile: Some(profile(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn clear_open_ai_key(
        &self,
        request: Request<ClearOpenAiKeyRequest>,
    ) -> Result<Response<ClearOpenAiKeyResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let record = self.profiles.clear_openai_key(&caller.user_id).await?;
        Ok(Response::new(ClearOpenAiKeyResponse { profile: Some(profile(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn export_my_data(
        &self,
        request: Request<ExportMyDataRequest>,
    ) -> Result<Response<ExportMyDataResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let archive = self.own_data.export(&caller.user_id).await?;
        Ok(Response::new(ExportMyDataResponse {
            file_name: archive.name,
            content_type: archive.content_type.into(),
            content: archive.content,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        self.own_data.delete_account(&caller, &request.get_ref().password).await?;
        Ok(Response::new(DeleteAccountResponse {}))
    }
}
