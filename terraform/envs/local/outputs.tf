output "checkpoint_table_name" {
  description = "CHECKPOINT_TABLE for the agent and the edge."
  value       = module.conversation_store.table_name
}

output "checkpoint_bucket_name" {
  description = "CHECKPOINT_BUCKET (checkpoints over 350 KB)."
  value       = module.conversation_store.bucket_name
}
