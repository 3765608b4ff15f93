variable "bucket_name" {
  description = "Name of the recordings bucket (globally unique)."
  type        = string
}

variable "kms_key_arn" {
  description = "The platform KMS key (the keys module's platform_key_arn) that encrypts every object at rest (SSE-KMS, with a bucket key)."
  type        = string
}

variable "object_lock_mode" {
  description = "Object Lock for tenants that must keep recordings unalterable: null (off), \"GOVERNANCE\" or \"COMPLIANCE\". Only settable on a new bucket. callvault deletes a recording by version id when its retention ends, which Object Lock refuses until the lock expires: keep object_lock_days at or below the shortest retention."
  type        = string
  default     = null

  validation {
    condition     = var.object_lock_mode == null || contains(["GOVERNANCE", "COMPLIANCE"], coalesce(var.object_lock_mode, "none"))
    error_message = "object_lock_mode must be null, GOVERNANCE or COMPLIANCE."
  }
}

variable "object_lock_days" {
  description = "Default Object Lock retention in days (with object_lock_mode)."
  type        = number
  default     = 30
}

variable "abort_incomplete_uploads_days" {
  description = "Days after which S3 aborts an incomplete multipart upload (callvault's sweep also aborts them)."
  type        = number
  default     = 2
}

variable "noncurrent_version_days" {
  description = "Days after which a noncurrent object version expires. callvault deletes every version of a shredded recording itself; this catches what a crash left behind."
  type        = number
  default     = 7
}

variable "access_log_bucket" {
  description = "A bucket receiving the server access logs of the recordings bucket."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
