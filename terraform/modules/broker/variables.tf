variable "name" {
  description = "Broker name."
  type        = string
}

variable "cluster" {
  description = "A three-node cluster across availability zones (CLUSTER_MULTI_AZ) instead of a single instance."
  type        = bool
  default     = true
}

variable "instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "mq.m5.large"
}

variable "engine_version" {
  description = "RabbitMQ version."
  type        = string
  default     = "3.13"
}

variable "subnet_ids" {
  description = "Private subnets: one for a single instance, three for a cluster."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the broker (allowing 5671 from the cluster's nodes)."
  type        = list(string)
}

variable "username" {
  description = "The broker user callvault connects as."
  type        = string
  default     = "callvault"
}

variable "password" {
  description = "That user's password (12 to 250 characters, no comma, colon or equals sign). Kept in the Terraform state: encrypt the state."
  type        = string
  sensitive   = true
}

variable "kms_key_arn" {
  description = "Key encrypting the broker's storage."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
