# callvault on EKS: the bucket, keys, databases, broker and IRSA roles, and
# the chart values that point the release at them (output chart_values).
locals {
  tags = {
    "app.kubernetes.io/part-of" = "callvault"
    "callvault/deployment"      = var.name
  }
  # The chart names its service accounts <fullname>-<service>; fullname is
  # the release name when it already contains "callvault".
  release_fullname = strcontains(var.release, "callvault") ? var.release : "${var.release}-callvault"
}

module "keys" {
  source = "../../modules/keys"

  name = var.name
  tags = local.tags
}

module "storage" {
  source = "../../modules/storage"

  bucket_name       = "${var.name}-recordings"
  kms_key_arn       = module.keys.platform_key_arn
  object_lock_mode  = var.object_lock_mode
  access_log_bucket = var.access_log_bucket
  tags              = local.tags
}

module "database" {
  source = "../../modules/database"

  name               = var.name
  subnet_ids         = var.private_subnet_ids
  security_group_ids = var.database_security_group_ids
  kms_key_arn        = module.keys.platform_key_arn
  tags               = local.tags
}

module "broker" {
  source = "../../modules/broker"

  name               = var.name
  subnet_ids         = var.private_subnet_ids
  security_group_ids = var.broker_security_group_ids
  password           = var.broker_password
  kms_key_arn        = module.keys.platform_key_arn
  tags               = local.tags
}

module "identity" {
  source = "../../modules/identity"

  name                = var.name
  oidc_provider_arn   = var.oidc_provider_arn
  namespace           = var.namespace
  release_fullname    = local.release_fullname
  bucket_arn          = module.storage.bucket_arn
  platform_key_arn    = module.keys.platform_key_arn
  tenant_alias_prefix = module.keys.tenant_alias_prefix
  tenant_tag_key      = module.keys.tenant_tag_key
  alias_arn_prefix    = module.keys.alias_arn_prefix
  tags                = local.tags
}
