variable "name" {
  description = "Deployment name, prefix of every role name."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the Helm release."
  type        = string
}

variable "release_fullname" {
  description = "The chart's full name (<release>-callvault): service accounts are <release_fullname>-<service>."
  type        = string
}

variable "bucket_arn" {
  description = "The recordings bucket (storage module's bucket_arn)."
  type        = string
}

variable "platform_key_arn" {
  description = "The platform key that encrypts the bucket (keys module's platform_key_arn)."
  type        = string
}

variable "tenant_alias_prefix" {
  description = "keys module's tenant_alias_prefix."
  type        = string
}

variable "tenant_tag_key" {
  description = "keys module's tenant_tag_key."
  type        = string
}

variable "alias_arn_prefix" {
  description = "keys module's alias_arn_prefix."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
