variable "name" {
  description = "Deployment name (prefix of every AWS resource)."
  type        = string
  default     = "callvault-prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets in three availability zones (databases and broker)."
  type        = list(string)
}

variable "database_security_group_ids" {
  description = "Security groups allowing 5432 from the cluster's nodes."
  type        = list(string)
}

variable "broker_security_group_ids" {
  description = "Security groups allowing 5671 from the cluster's nodes."
  type        = list(string)
}

variable "access_log_bucket" {
  description = "The bucket receiving S3 server access logs."
  type        = string
}

variable "broker_password" {
  description = "Password of the broker's callvault user."
  type        = string
  sensitive   = true
}

variable "namespace" {
  description = "Kubernetes namespace of the Helm release."
  type        = string
  default     = "callvault"
}

variable "release" {
  description = "Helm release name."
  type        = string
  default     = "callvault"
}

variable "public_host" {
  description = "The host name clients use."
  type        = string
}

variable "object_lock_mode" {
  description = "Object Lock on the recordings bucket: null, GOVERNANCE or COMPLIANCE."
  type        = string
  default     = null
}
