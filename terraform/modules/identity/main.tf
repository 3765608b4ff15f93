data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  oidc_issuer = replace(var.oidc_provider_arn, "/^arn:[^:]+:iam::[0-9]+:oidc-provider\\//", "")

  template_vars = {
    bucket_arn          = var.bucket_arn
    platform_key_arn    = var.platform_key_arn
    tenant_alias_prefix = var.tenant_alias_prefix
    tenant_tag_key      = var.tenant_tag_key
    alias_arn_prefix    = var.alias_arn_prefix
    key_arn_prefix      = "arn:${data.aws_partition.current.partition}:kms:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:key/"
    region              = data.aws_region.current.name
  }

  # One role for each service that calls AWS, allowed exactly the calls its
  # code makes (deploy/tests/test_least_privilege.py derives them from the
  # source and compares). gateway, ingestion, billing and webhooks make none: they get
  # no role.
  policies = {
    for file in fileset("${path.module}/policies", "*.json.tftpl") :
    trimsuffix(file, ".json.tftpl") => templatefile("${path.module}/policies/${file}", local.template_vars)
  }
}

data "aws_iam_policy_document" "assume" {
  for_each = local.policies

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.release_fullname}-${each.key}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each = local.policies

  name                 = "${var.name}-${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = 3600
  tags                 = merge(var.tags, { "callvault/service" = each.key })
}

resource "aws_iam_role_policy" "service" {
  for_each = local.policies

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.service[each.key].id
  policy = each.value
}
