output "chart_values" {
  description = "Values for charts/callvault: terraform output -raw chart_values > values-aws.yaml"
  value = templatefile("${path.module}/values.yaml.tftpl", {
    public_host         = var.public_host
    bucket_name         = module.storage.bucket_name
    region              = var.region
    release_fullname    = local.release_fullname
    storage_role_arn    = module.identity.role_arns["storage"]
    metadata_role_arn   = module.identity.role_arns["metadata"]
    disclosure_role_arn = module.identity.role_arns["disclosure"]
  })
}

output "database_endpoints" {
  description = "host:port of each service's database (callvault_<service>), for the Secret's database-<service>-url keys."
  value       = module.database.endpoints
}

output "database_master_user_secret_arns" {
  description = "Secrets Manager secrets with each database's credentials."
  value       = module.database.master_user_secret_arns
}

output "broker_endpoint" {
  description = "amqps://host:5671 of the broker, for the Secret's bus-url key."
  value       = module.broker.amqps_endpoint
}
