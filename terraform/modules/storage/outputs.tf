output "bucket_name" {
  description = "The recordings bucket (chart value blob.s3Bucket)."
  value       = aws_s3_bucket.recordings.bucket
}

output "bucket_arn" {
  description = "The recordings bucket's ARN (the identity module's bucket_arn)."
  value       = aws_s3_bucket.recordings.arn
}
