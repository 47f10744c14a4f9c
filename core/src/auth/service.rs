//! `assistchat.v1.AuthService` over [`Accounts`]: decode, check the caller, call the domain,
//! encode.

use std::{net::IpAddr, sync::Arc};

use assistchat_proto::v1::{
    ApiToken, ChangePasswordRequest, ChangePasswordResponse, CreateApiTokenRequest, CreateApiTokenResponse,
    DeleteApiTokenRequest, DeleteApiTokenResponse, GetCurrentUserRequest, GetCurrentUserResponse, ListApiTokensRequest,
    ListApiTokensResponse, LoginRequest, LoginResponse, LogoutRequest, LogoutResponse, RegisterRequest,
    RegisterResponse, Session, User, auth_service_server::AuthService,
};
use tonic::{Request, Response, Status};

use super::{Accounts, NewSession, Registration};
use crate::{
    rpc::{caller, client_address, timestamp},
    store::{api_tokens::ApiTokenRecord, users::UserRecord},
};

/// The gRPC face of [`Accounts`].
pub struct AuthApi {
    /// The domain.
    accounts: Arc<Accounts>,
    /// Peers whose `x-forwarded-for` is believed.
    trusted_proxies: Arc<[IpAddr]>,
}

impl AuthApi {
    /// The service over `accounts`.
    pub fn new(accounts: Arc<Accounts>, trusted_proxies: Arc<[IpAddr]>) -> Self {
        Self { accounts, trusted_proxies }
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
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    #[tracing::instrument(skip_all)]
    async fn register(&self, request: Request<RegisterRequest>) -> Result<Response<RegisterResponse>, Status> {
        let input = request.into_inner();
        let (record, new) = self
            .accounts
            .register(&Registration {
                email: &input.email,
                password: &input.password,
                display_name: &input.display_name,
                language_code: &input.language_code,
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
        Ok(Response::new(ChangePasswordResponse { ended_session_count: i32::try_from(ended).unwrap_or(i32::MAX) }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_api_token(
        &self,
        request: Request<CreateApiTokenRequest>,
    ) -> Result<Response<CreateApiTokenResponse>, Status> {
        let caller = caller(&self.accounts, &request).await?;
        let (record, token) = self.accounts.create_api_token(&caller, &request.get_ref().name).await?;
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
}
