//! The fake's KMS: keys, aliases, key state and versioned key material,
//! answering JSON requests with JSON replies or `{"__type", "message"}` errors.
//!
//! Ciphertext blob: `len(key id): u8 | key id | version: u32 BE | nonce (12)
//! | AES-256-GCM(plaintext) || tag`, AAD = the sorted JSON encryption context.

use std::collections::{BTreeMap, HashMap};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "111122223333";

pub fn error(kind: &str, message: &str) -> Value {
    json!({ "__type": kind, "message": message })
}

#[derive(Clone, Copy, PartialEq)]
enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

struct Key {
    id: String,
    arn: String,
    description: String,
    state: KeyState,
    versions: Vec<[u8; 32]>,
}

#[derive(Default)]
pub struct State {
    keys: HashMap<String, Key>,
    aliases: HashMap<String, String>,
}

type Reply = Result<Value, Value>;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    bytes
}

fn string_param<'a>(request: &'a Value, name: &str) -> Result<&'a str, Value> {
    request[name]
        .as_str()
        .ok_or_else(|| error("ValidationException", &format!("{name} is required")))
}

fn blob_param(request: &Value, name: &str) -> Result<Vec<u8>, Value> {
    BASE64
        .decode(string_param(request, name)?)
        .map_err(|_| error("ValidationException", &format!("{name} is not base64")))
}

/// The AAD for a context: its sorted JSON, so map order never matters.
fn context_aad(request: &Value, name: &str) -> Vec<u8> {
    let context: BTreeMap<String, String> =
        serde_json::from_value(request[name].clone()).unwrap_or_default();
    serde_json::to_vec(&context).unwrap_or_default()
}

fn aead(material: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material).expect("aes key"))
}

impl State {
    pub fn handle(&mut self, operation: &str, request: &Value) -> Reply {
        match operation {
            "CreateKey" => self.create_key(request),
            "CreateAlias" => self.create_alias(request),
            "DescribeKey" => {
                let key = self.resolve(string_param(request, "KeyId")?)?;
                Ok(json!({ "KeyMetadata": self.metadata(&key) }))
            }
            "GenerateDataKey" => self.generate_data_key(request),
            "Decrypt" => {
                let claimed = request["KeyId"].as_str();
                let aad = context_aad(request, "EncryptionContext");
                let (key, plaintext) =
                    self.open(&blob_param(request, "CiphertextBlob")?, claimed, &aad)?;
                Ok(json!({
                    "KeyId": self.keys[&key].arn,
                    "Plaintext": BASE64.encode(plaintext),
                    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
                }))
            }
            "ReEncrypt" => {
                let claimed = request["SourceKeyId"].as_str();
                let source_aad = context_aad(request, "SourceEncryptionContext");
                let blob = blob_param(request, "CiphertextBlob")?;
                let (source, plaintext) = self.open(&blob, claimed, &source_aad)?;
                let destination = self.usable(string_param(request, "DestinationKeyId")?)?;
                let aad = context_aad(request, "DestinationEncryptionContext");
                Ok(json!({
                    "CiphertextBlob": BASE64.encode(self.seal(&destination, &plaintext, &aad)),
                    "KeyId": self.keys[&destination].arn,
                    "SourceKeyId": self.keys[&source].arn,
                }))
            }
            "RotateKeyOnDemand" => {
                let key_id = string_param(request, "KeyId")?;
                // Real KMS takes a key id or ARN here, never an alias.
                if key_id.contains("alias/") {
                    return Err(error(
                        "ValidationException",
                        "rotation needs a key id or arn",
                    ));
                }
                let key = self.usable(key_id)?;
                let material = random_bytes::<32>();
                if let Some(key) = self.keys.get_mut(&key) {
                    key.versions.push(material);
                }
                Ok(json!({ "KeyId": key }))
            }
            "DisableKey" => self.set_state(request, KeyState::Disabled),
            "EnableKey" => self.set_state(request, KeyState::Enabled),
            "ScheduleKeyDeletion" => {
                self.set_state(request, KeyState::PendingDeletion)?;
                let key = self.resolve(string_param(request, "KeyId")?)?;
                Ok(json!({ "KeyId": self.keys[&key].arn, "KeyState": "PendingDeletion" }))
            }
            _ => Err(error("UnknownOperationException", operation)),
        }
    }

    fn create_key(&mut self, request: &Value) -> Reply {
        let id = random_bytes::<16>()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>();
        let key = Key {
            arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}"),
            id: id.clone(),
            description: request["Description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            state: KeyState::Enabled,
            versions: vec![random_bytes::<32>()],
        };
        self.keys.insert(id.clone(), key);
        Ok(json!({ "KeyMetadata": self.metadata(&id) }))
    }

    fn create_alias(&mut self, request: &Value) -> Reply {
        let alias = string_param(request, "AliasName")?.to_owned();
        if !alias.starts_with("alias/") || alias.starts_with("alias/aws/") {
            return Err(error("ValidationException", "invalid alias name"));
        }
        if self.aliases.contains_key(&alias) {
            return Err(error(
                "AlreadyExistsException",
                &format!("{alias} already exists"),
            ));
        }
        let target = self.resolve(string_param(request, "TargetKeyId")?)?;
        self.aliases.insert(alias, target);
        Ok(json!({}))
    }

    fn generate_data_key(&mut self, request: &Value) -> Reply {
        let key = self.usable(string_param(request, "KeyId")?)?;
        if request["KeySpec"].as_str() != Some("AES_256") {
            return Err(error(
                "ValidationException",
                "this fake only makes AES_256 keys",
            ));
        }
        let plaintext = random_bytes::<32>();
        let aad = context_aad(request, "EncryptionContext");
        Ok(json!({
            "CiphertextBlob": BASE64.encode(self.seal(&key, &plaintext, &aad)),
            "Plaintext": BASE64.encode(plaintext),
            "KeyId": self.keys[&key].arn,
        }))
    }

    fn set_state(&mut self, request: &Value, state: KeyState) -> Reply {
        let id = self.resolve(string_param(request, "KeyId")?)?;
        let Some(key) = self.keys.get_mut(&id) else {
            return Err(error("NotFoundException", "key not found"));
        };
        if key.state == KeyState::PendingDeletion {
            return Err(error("KMSInvalidStateException", "key is pending deletion"));
        }
        key.state = state;
        Ok(json!({}))
    }

    /// A key id, key ARN, alias name or alias ARN to the key id.
    fn resolve(&self, key_id: &str) -> Result<String, Value> {
        let not_found = || {
            error(
                "NotFoundException",
                &format!("key '{key_id}' does not exist"),
            )
        };
        let name = key_id
            .strip_prefix(&format!("arn:aws:kms:{REGION}:{ACCOUNT}:"))
            .unwrap_or(key_id);
        let id = match name.strip_prefix("key/") {
            Some(id) => id,
            None if name.starts_with("alias/") => self.aliases.get(name).ok_or_else(not_found)?,
            None => name,
        };
        if !self.keys.contains_key(id) {
            return Err(not_found());
        }
        Ok(id.to_owned())
    }

    /// Resolves a key that must be able to encrypt and decrypt now.
    fn usable(&self, key_id: &str) -> Result<String, Value> {
        let id = self.resolve(key_id)?;
        match self.keys[&id].state {
            KeyState::Enabled => Ok(id),
            KeyState::Disabled => Err(error("DisabledException", &format!("{key_id} is disabled"))),
            KeyState::PendingDeletion => Err(error(
                "KMSInvalidStateException",
                &format!("{key_id} is pending deletion"),
            )),
        }
    }

    fn metadata(&self, id: &str) -> Value {
        let key = &self.keys[id];
        json!({
            "AWSAccountId": ACCOUNT,
            "KeyId": key.id,
            "Arn": key.arn,
            "CreationDate": 1_700_000_000.0,
            "Enabled": key.state == KeyState::Enabled,
            "Description": key.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": key.state.as_str(),
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        })
    }

    /// Seals under the key's current version.
    fn seal(&self, id: &str, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let key = &self.keys[id];
        let version = key.versions.len() as u32;
        let nonce = random_bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        aead(&key.versions[version as usize - 1])
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .expect("seal");
        let mut blob = vec![id.len() as u8];
        blob.extend_from_slice(id.as_bytes());
        blob.extend_from_slice(&version.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        blob
    }

    /// Opens a blob, checking it against the key the caller named (if any)
    /// and the key's state, as KMS does. Returns the key id and plaintext.
    fn open(
        &self,
        blob: &[u8],
        claimed: Option<&str>,
        aad: &[u8],
    ) -> Result<(String, Vec<u8>), Value> {
        let invalid = || error("InvalidCiphertextException", "ciphertext is invalid");
        let (&id_len, rest) = blob.split_first().ok_or_else(invalid)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + 4 + NONCE_LEN {
            return Err(invalid());
        }
        let (id, rest) = rest.split_at(id_len);
        let id = std::str::from_utf8(id).map_err(|_| invalid())?;
        let (version, rest) = rest.split_at(4);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        if !self.keys.contains_key(id) {
            return Err(invalid());
        }
        if let Some(claimed) = claimed
            && self.resolve(claimed)? != id
        {
            return Err(error(
                "IncorrectKeyException",
                "the ciphertext was encrypted under another key",
            ));
        }
        self.usable(id)?;
        let version = u32::from_be_bytes(version.try_into().map_err(|_| invalid())?) as usize;
        let material = version
            .checked_sub(1)
            .and_then(|index| self.keys[id].versions.get(index))
            .ok_or_else(invalid)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
        let mut in_out = sealed.to_vec();
        let plaintext = aead(material)
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| invalid())?;
        Ok((id.to_owned(), plaintext.to_vec()))
    }
}
