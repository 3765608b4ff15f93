data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# Key administration stays with the account; what each service may do with
# keys is granted to its IRSA role by the identity module, from the alias
# prefix and tag below.
data "aws_iam_policy_document" "platform_key" {
  # checkov:skip=CKV_AWS_111:A key policy's "*" is this key alone; the statement is AWS's default key policy, which hands the key's authorization to the account's IAM policies.
  # checkov:skip=CKV_AWS_356:A key policy's "*" is this key alone (see CKV_AWS_111).
  # checkov:skip=CKV_AWS_109:A key policy's "*" is this key alone (see CKV_AWS_111); without it the key could become unmanageable.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${var.name}: recordings bucket (SSE-KMS) and database encryption"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_days
  policy                  = data.aws_iam_policy_document.platform_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${var.name}/platform"
  target_key_id = aws_kms_key.platform.key_id
}

locals {
  # Fixed by the code: libs/keys/src/kms.rs creates each tenant's key as
  # alias/callvault/tenant-<id>, tagged tenant=<id>.
  tenant_alias_prefix = "alias/callvault/tenant-"
  tenant_tag_key      = "tenant"
}
