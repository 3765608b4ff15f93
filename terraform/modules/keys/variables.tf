variable "name" {
  description = "Deployment name: the platform key's alias is alias/<name>/platform."
  type        = string
}

variable "deletion_window_days" {
  description = "Waiting period before a scheduled deletion of the platform key takes effect."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
