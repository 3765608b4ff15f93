variable "name" {
  description = "Deployment name, prefix of every instance identifier."
  type        = string
}

variable "services" {
  description = "The services with a database of their own: one PostgreSQL instance and database each."
  type        = set(string)
  default     = ["storage", "metadata", "ingestion", "disclosure", "billing", "webhooks"]
}

variable "subnet_ids" {
  description = "Private subnets of the database subnet group."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances (allowing 5432 from the cluster's nodes)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Key encrypting storage, Performance Insights and the master password secret."
  type        = string
}

variable "instance_class" {
  description = "Instance class of every instance."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Storage in GiB of every instance."
  type        = number
  default     = 50
}

variable "engine_version" {
  description = "PostgreSQL major version."
  type        = string
  default     = "16"
}

variable "multi_az" {
  description = "A standby in a second availability zone."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 14
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
