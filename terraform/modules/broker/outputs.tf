output "amqps_endpoint" {
  description = "amqps://host:5671 of the broker; the chart's bus-url secret is amqps://<user>:<password>@<host>:5671/%2f."
  value       = aws_mq_broker.this.instances[0].endpoints[0]
}
