resource "aws_mq_broker" "this" {
  # checkov:skip=CKV_AWS_197:RabbitMQ brokers on Amazon MQ have no audit log; general logs are on.
  broker_name                = var.name
  engine_type                = "RabbitMQ"
  engine_version             = var.engine_version
  auto_minor_version_upgrade = true
  host_instance_type         = var.instance_type
  deployment_mode            = var.cluster ? "CLUSTER_MULTI_AZ" : "SINGLE_INSTANCE"
  publicly_accessible        = false
  subnet_ids                 = var.cluster ? var.subnet_ids : [var.subnet_ids[0]]
  security_groups            = var.security_group_ids
  tags                       = var.tags

  encryption_options {
    use_aws_owned_key = false
    kms_key_id        = var.kms_key_arn
  }

  logs {
    general = true
  }

  user {
    username = var.username
    password = var.password
  }
}
