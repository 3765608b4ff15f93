output "role_arns" {
  description = "IRSA role of each service that calls AWS (chart value targets.<service>.serviceAccount.annotations[eks.amazonaws.com/role-arn])."
  value       = { for service, role in aws_iam_role.service : service => role.arn }
}

output "policies" {
  description = "The rendered policy of each role."
  value       = local.policies
}
