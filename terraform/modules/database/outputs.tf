output "endpoints" {
  description = "host:port of each service's instance; its database is callvault_<service>."
  value       = { for service, db in aws_db_instance.service : service => db.endpoint }
}

output "master_user_secret_arns" {
  description = "Secrets Manager secrets holding each instance's master credentials, from which the chart's database-<service>-url keys are built."
  value       = { for service, db in aws_db_instance.service : service => db.master_user_secret[0].secret_arn }
}
