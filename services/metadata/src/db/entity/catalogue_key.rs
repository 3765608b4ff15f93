use sea_orm::entity::prelude::*;

/// A tenant's catalogue data key, wrapped under its master key.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalogue_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The tenant's `key_ref` when it was last wrapped: a key change is
    /// noticed (and the key re-wrapped) when the two differ.
    pub master_key_ref: String,
    /// The provider's name for the key that wrapped it (a KMS key ARN, a
    /// keyring key name), as the provider needs it back to unwrap.
    pub wrapped_key_ref: String,
    pub wrapped_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub wrapped_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogueKey")
            .field("tenant_id", &self.tenant_id)
            .field("master_key_ref", &self.master_key_ref)
            .field("wrapped_key_len", &self.wrapped_key.len())
            .finish()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
