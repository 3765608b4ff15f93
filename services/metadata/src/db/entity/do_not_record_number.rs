use sea_orm::entity::prelude::*;

/// One number of a tenant's do-not-record list: matched by its blind index,
/// listed by opening its ciphertext (both under the catalogue key).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "do_not_record_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub number_index: Vec<u8>,
    pub number_ciphertext: Vec<u8>,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
