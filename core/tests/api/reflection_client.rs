//! An outside client that knows nothing but reflection: it learns the contracts from the server,
//! builds requests from JSON, and registers, signs in, reads its profile and sets a key.

use assistchat_proto::v1::GetCurrentUserRequest;
use bytes::{Buf, BufMut};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tonic::{
    Code, Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

use crate::{
    both_backends,
    helpers::{Backend, spawn_app, uuid_simple},
};

both_backends!(a_client_with_only_reflection_can_use_the_platform);

/// Passes already-encoded protobuf bytes through unchanged.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// A client that learned every service from reflection.
struct ReflectionClient {
    channel: Channel,
    pool: DescriptorPool,
}

impl ReflectionClient {
    async fn discover(channel: Channel) -> Self {
        let mut reflection = ServerReflectionClient::new(channel.clone());
        let ask = |request| {
            tokio_stream::once(ServerReflectionRequest { host: String::new(), message_request: Some(request) })
        };
        let mut answers = reflection
            .server_reflection_info(ask(MessageRequest::ListServices(String::new())))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) = answers.next().await.unwrap().unwrap().message_response
        else {
            panic!("no service list");
        };
        // Like grpcurl: the file of each service, then every file it imports, by name.
        let mut wanted: Vec<MessageRequest> = list
            .service
            .iter()
            .filter(|s| s.name.starts_with("assistchat."))
            .map(|s| MessageRequest::FileContainingSymbol(s.name.clone()))
            .collect();
        let mut files: Vec<prost_types::FileDescriptorProto> = Vec::new();
        while let Some(request) = wanted.pop() {
            let mut answers = reflection.server_reflection_info(ask(request.clone())).await.unwrap().into_inner();
            let Some(MessageResponse::FileDescriptorResponse(found)) =
                answers.next().await.unwrap().unwrap().message_response
            else {
                panic!("no descriptors for {request:?}");
            };
            for bytes in found.file_descriptor_proto {
                let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
                if files.iter().any(|f| f.name == file.name) {
                    continue;
                }
                for import in &file.dependency {
                    if !files.iter().any(|f| f.name() == import) {
                        wanted.push(MessageRequest::FileByFilename(import.clone()));
                    }
                }
                files.push(file);
            }
        }
        let mut pool = DescriptorPool::new();
        pool.add_file_descriptor_protos(files).expect("reflection gives a complete set of files");
        Self { channel, pool }
    }

    /// Calls `service/method` with a JSON request; returns the JSON response.
    async fn call(&self, service: &str, method: &str, body: Value, token: Option<&str>) -> Result<Value, Status> {
        let service = self.pool.get_service_by_name(service).unwrap_or_else(|| panic!("{service} is described"));
        let method = service.methods().find(|m| m.name() == method).unwrap_or_else(|| panic!("{method} is described"));
        let input = DynamicMessage::deserialize(method.input(), body).expect("the JSON fits the request type");
        let mut request = Request::new(input.encode_to_vec());
        if let Some(token) = token {
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.unwrap();
        let path = format!("/{}/{}", service.full_name(), method.name()).parse().unwrap();
        let reply = grpc.unary(request, path, RawCodec).await?.into_inner();
        let output = DynamicMessage::decode(method.output(), reply.as_slice()).unwrap();
        Ok(serde_json::to_value(&output).unwrap())
    }
}

async fn a_client_with_only_reflection_can_use_the_platform(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let client = ReflectionClient::discover(app.channel.clone()).await;
    let auth = "assistchat.v1.AuthService";
    let profile = "assistchat.v1.ProfileService";
    let email = format!("reflect.{}@example.com", &uuid_simple()[..8]);

    let bad = client.call(
        auth,
        "Register",
        json!({"email": "nope", "password": "a long passphrase", "displayName": "R"}),
        None,
    );
    let status = bad.await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("email"), "{}", status.message());

    let registered = client
        .call(
            auth,
            "Register",
            json!({"email": email, "password": "a long passphrase", "displayName": "Reflect"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(registered["user"]["email"], email.as_str());
    let wrong = client.call(auth, "Login", json!({"email": email, "password": "wrong wrong wrong"}), None).await;
    assert_eq!(wrong.unwrap_err().code(), Code::Unauthenticated);
    let login =
        client.call(auth, "Login", json!({"email": email, "password": "a long passphrase"}), None).await.unwrap();
    let token = login["session"]["token"].as_str().unwrap().to_owned();

    let got = client.call(profile, "GetProfile", json!({}), Some(&token)).await.unwrap();
    assert_eq!(got["profile"]["displayName"], "Reflect");
    assert_eq!(got["profile"]["aiMode"], "AI_MODE_MANAGED");
    let unauthenticated = client.call(profile, "GetProfile", json!({}), None).await.unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);

    let set =
        client.call(profile, "SetOpenAiKey", json!({"apiKey": "sk-reflection-key-9876"}), Some(&token)).await.unwrap();
    assert_eq!(set["profile"]["openaiKeyMask"], "sk-...9876");
    assert_eq!(set["profile"]["openaiKeyState"], "OPEN_AI_KEY_STATE_SET");
    // In JSON a FieldMask is written in lowerCamelCase, as every JSON client sends it.
    let update = json!({"profile": {"aiMode": "AI_MODE_BYOK", "displayName": "Ignored"}, "updateMask": "aiMode"});
    let updated = client.call(profile, "UpdateProfile", update, Some(&token)).await.unwrap();
    assert_eq!(updated["profile"]["aiMode"], "AI_MODE_BYOK");
    assert_eq!(updated["profile"]["displayName"], "Reflect", "not in the mask");
    assert!(!updated.to_string().contains("sk-reflection-key-9876"), "the key is never returned");

    // The same session works with the generated client too.
    app.auth().get_current_user(crate::helpers::authed(GetCurrentUserRequest {}, &token)).await.unwrap();
}
