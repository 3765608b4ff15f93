output "platform_key_arn" {
  description = "The platform key (storage module's kms_key_arn, database module's kms_key_arn)."
  value       = aws_kms_key.platform.arn
}

output "tenant_alias_prefix" {
  description = "Prefix of the aliases of the tenants' keys, which the metadata service creates at onboarding (identity module's tenant_alias_prefix)."
  value       = local.tenant_alias_prefix
}

output "tenant_tag_key" {
  description = "The tag every tenant key carries (identity module's tenant_tag_key)."
  value       = local.tenant_tag_key
}

output "alias_arn_prefix" {
  description = "ARN prefix of the tenants' aliases in this account and region."
  value       = "arn:${data.aws_partition.current.partition}:kms:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${local.tenant_alias_prefix}"
}
