//! `assistchat.v1.AuthService` over [`Accounts`]: decode, check the caller, call the domain,
//! encode.

use std::sync::Arc;

use assistchat_proto::v1::{
    ApiToken, BeginIdentitySignInRequest, BeginIdentitySignInResponse, ChangePasswordRequest, ChangePasswordResponse,
    CreateApiTokenRequest, CreateApiTokenResponse, DeleteApiTokenRequest, DeleteApiTokenResponse,
    FinishIdentitySignInRequest, FinishIdentitySignInResponse, GetCurrentUserRequest, GetCurrentUserResponse,
    IdentityLinkRequired, IdentityProvider, IdentitySignedIn, LinkIdentityWithPasswordRequest,
    LinkIdentityWithPasswordResponse, LinkedIdentity, ListApiTokensRequest, ListApiTokensResponse,
    ListIdentityProvidersRequest, ListIdentityProvidersResponse, ListSignInMethodsRequest, ListSignInMethodsResponse,
    LoginRequest, LoginResponse, LogoutRequest, LogoutResponse, RedeemSignInLinkRequest, RedeemSignInLinkResponse,
    RegisterRequest, RegisterResponse, RegistrationPolicy as PolicyMessage, Session, UnlinkIdentityRequest,
    UnlinkIdentityResponse, User, auth_service_server::AuthService, finish_identity_sign_in_response::Outcome,
};
use tonic::{Request, Response, Status};

use super::{
    Accounts, NewSession,
    identities::{Callback, Finished, Identities},
    registration::RegistrationPolicy,
};
use crate::{
    error::Error,
    rpc::{TrustedProxies, caller, client_address, timestamp},
    store::{api_tokens::ApiTokenRecord, identities::IdentityRecord, users::UserRecord},
};

/// The gRPC face of [`Accounts`].
pub struct AuthApi {
    /// The domain.
    accounts: Arc<Accounts>,
    /// Sign-in with identity providers.
    identities: Arc<Identities>,
    /// Peers whose `x-forwarded-for` is believed.
    trusted_proxies: TrustedProxies,
}

impl AuthApi {
    /// The service over `accounts` and `identities`.
    pub fn new(accounts: Arc<Accounts>, identities: Arc<Identities>, trusted_proxies: TrustedProxies) -> Self {
        Self { accounts, identities, trusted_proxies }
    }

    fn linked_identity(&self, record: IdentityRecord) -> LinkedIdentity {
        LinkedIdentity {
            provider_display_name: self.identities.display_name(&record.provider_id).to_owned(),
            id: record.id,
            provider_id: record.provider_id,
            email: record.email,
            create_time: Some(timestamp(record.create_time)),
        }
    }
}

fn user(record: UserRecord) -> User {
    User {
        id: record.id,
        email: record.email,
        display_name: record.display_name,
        language_code: record.language_code,
        create_time: Some(timestamp(record.create_time)),
    }
}

fn session(new: NewSession) -> Session {
    Session { token: new.token, expire_time: Some(timestamp(new.expire_time)) }
}

fn api_token(record: ApiTokenRecord) -> ApiToken {
    ApiToken {
        id: record.id,
        name: record.name,
        create_time: Some(timestamp(record.create_time)),
        last_use_time: record.last_use_time.map(timestamp),
        expire_time: record.expire_time.map(timestamp),
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    #[tracing::instrument(skip_all)]
    async fn register(&self, request: Request<RegisterRequest>) -> Result<Response<RegisterResponse>, Status> {
        let address = client_address(&request, &self.trusted_proxies);
        let input = request.into_inner();
        let (record, new) = self
            .accounts
            .register(&super::Registration {
                email: &input.email,
                password: &input.password,
                display_name: &input.display_name,
                language_code: &input.language_code,
                address,
            })
            .await?;
        Ok(Response::new(RegisterResponse { user: Some(user(record)), session: Some(session(new)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let address = client_address(&request, &self.trusted_proxies);
        let input = request.into_inner();
        let (record, new) = self.accounts.login(&input.email, &input.password, address).await?;
        Ok(Response::new(LoginResponse { user: Some(user(record)), session: Some(session(new)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn logout(&self, request: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        self.accounts.logout(&caller).await?;
        Ok(Response::new(LogoutResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn get_current_user(
        &self,
        request: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let record = self.accounts.current_user(&caller.user_id).await?;
        Ok(Response::new(GetCurrentUserResponse { user: Some(user(record)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.into_inner();
        let ended = self.accounts.change_password(&caller, &input.current_password, &input.new_password).await?;
        Ok(Response::new(ChangePasswordResponse {
            ended_session_count: i32::try_from(ended.sessions).unwrap_or(i32::MAX),
            revoked_api_token_count: i32::try_from(ended.api_tokens).unwrap_or(i32::MAX),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_api_token(
        &self,
        request: Request<CreateApiTokenRequest>,
    ) -> Result<Response<CreateApiTokenResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.get_ref();
        let ttl = match &input.ttl {
            None => None,
            Some(ttl) => Some(
                std::time::Duration::try_from(*ttl)
                    .map_err(|_| Error::invalid("ttl", "must be a positive duration, or unset for no expiry"))?,
            ),
        };
        let (record, token) = self.accounts.create_api_token(&caller, &input.name, ttl).await?;
        Ok(Response::new(CreateApiTokenResponse { api_token: Some(api_token(record)), token }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_api_tokens(
        &self,
        request: Request<ListApiTokensRequest>,
    ) -> Result<Response<ListApiTokensResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let input = request.get_ref();
        let (records, next_page_token) =
            self.accounts.list_api_tokens(&caller, input.page_size, &input.page_token).await?;
        Ok(Response::new(ListApiTokensResponse {
            api_tokens: records.into_iter().map(api_token).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn delete_api_token(
        &self,
        request: Request<DeleteApiTokenRequest>,
    ) -> Result<Response<DeleteApiTokenResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        self.accounts.delete_api_token(&caller, &request.get_ref().id).await?;
        Ok(Response::new(DeleteApiTokenResponse {}))
    }

    #[tracing::instrument(skip_all)]
    async fn list_identity_providers(
        &self,
        _request: Request<ListIdentityProvidersRequest>,
    ) -> Result<Response<ListIdentityProvidersResponse>, Status> {
        let identity_providers = self
            .identities
            .providers()
            .iter()
            .map(|provider| IdentityProvider { id: provider.id().into(), display_name: provider.display_name().into() })
            .collect();
        let policy = self.accounts.registration();
        let registration = match policy {
            RegistrationPolicy::Open => PolicyMessage::Open,
            RegistrationPolicy::Domains(_) => PolicyMessage::Domains,
            RegistrationPolicy::Closed => PolicyMessage::Closed,
        };
        Ok(Response::new(ListIdentityProvidersResponse {
            identity_providers,
            registration: registration.into(),
            registration_domains: policy.domains().to_vec(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn begin_identity_sign_in(
        &self,
        request: Request<BeginIdentitySignInRequest>,
    ) -> Result<Response<BeginIdentitySignInResponse>, Status> {
        let link_to = if request.get_ref().link { Some(caller(&self.accounts, &request).await?) } else { None };
        let address = client_address(&request, &self.trusted_proxies);
        let begun = self.identities.begin(&request.get_ref().provider_id, link_to.as_ref(), address).await?;
        Ok(Response::new(BeginIdentitySignInResponse {
            authorization_url: begun.authorization_url,
            state: begun.state,
            expire_time: Some(timestamp(begun.expire_time)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn finish_identity_sign_in(
        &self,
        request: Request<FinishIdentitySignInRequest>,
    ) -> Result<Response<FinishIdentitySignInResponse>, Status> {
        // Only a link needs the caller; a sign-in may come with a stale session or none.
        let signed_in = match request.metadata().get("authorization") {
            Some(_) => caller(&self.accounts, &request).await.ok(),
            None => None,
        };
        let input = request.get_ref();
        let callback = Callback {
            provider_id: &input.provider_id,
            state: &input.state,
            code: &input.code,
            error: &input.error,
            error_description: &input.error_description,
            language_code: &input.language_code,
        };
        let outcome = match self.identities.finish(&callback, signed_in.as_ref()).await? {
            Finished::SignedIn { user: record, session: new, created } => {
                Outcome::SignedIn(IdentitySignedIn { user: Some(user(record)), session: Some(session(new)), created })
            }
            Finished::Linked(record) => Outcome::Linked(self.linked_identity(record)),
            Finished::LinkRequired { email, provider_display_name, link_token, expire_time } => {
                Outcome::LinkRequired(IdentityLinkRequired {
                    email,
                    provider_display_name,
                    link_token,
                    expire_time: Some(timestamp(expire_time)),
                })
            }
        };
        Ok(Response::new(FinishIdentitySignInResponse { outcome: Some(outcome) }))
    }

    #[tracing::instrument(skip_all)]
    async fn link_identity_with_password(
        &self,
        request: Request<LinkIdentityWithPasswordRequest>,
    ) -> Result<Response<LinkIdentityWithPasswordResponse>, Status> {
        let address = client_address(&request, &self.trusted_proxies);
        let input = request.into_inner();
        let (record, new, linked) =
            self.identities.link_with_password(&input.link_token, &input.password, address).await?;
        Ok(Response::new(LinkIdentityWithPasswordResponse {
            user: Some(user(record)),
            session: Some(session(new)),
            linked: Some(self.linked_identity(linked)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_sign_in_methods(
        &self,
        request: Request<ListSignInMethodsRequest>,
    ) -> Result<Response<ListSignInMethodsResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let methods = self.identities.sign_in_methods(&caller).await?;
        Ok(Response::new(ListSignInMethodsResponse {
            has_password: methods.has_password,
            identities: methods.identities.into_iter().map(|record| self.linked_identity(record)).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn redeem_sign_in_link(
        &self,
        request: Request<RedeemSignInLinkRequest>,
    ) -> Result<Response<RedeemSignInLinkResponse>, Status> {
        let (record, new) = self.accounts.redeem_sign_in_link(&request.get_ref().token).await?;
        Ok(Response::new(RedeemSignInLinkResponse { user: Some(user(record)), session: Some(session(new)) }))
    }

    #[tracing::instrument(skip_all)]
    async fn unlink_identity(
        &self,
        request: Request<UnlinkIdentityRequest>,
    ) -> Result<Response<UnlinkIdentityResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        self.identities.unlink(&caller, &request.get_ref().id).await?;
        Ok(Response::new(UnlinkIdentityResponse {}))
    }
}
