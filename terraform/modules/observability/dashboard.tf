# One dashboard for the system: traffic and errors, latency percentiles, the model's tokens and cost
# (per turn and per conversation, from the message function's turn records), and the health of
# DynamoDB, the database and Lambda concurrency. Widgets 24 units wide in rows of 6 high.

locals {
  fn       = var.function_names
  message  = var.function_names["message"]
  source   = "SOURCE '${var.message_log_group_name}'"
  ns       = local.metric_namespace
  has_db   = var.db_instance_id != null
  has_bdrk = var.bedrock_model_id != null

  lambda_metric = { for k, f in local.fn : k => ["AWS/Lambda", "Errors", "FunctionName", f, { label = "${k} errors" }] }

  widgets = concat(
    [
      {
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = "## ${var.name}\nWhat each alarm means and what to do: `docs/runbook.md` in the repository. Turns, tokens and cost come from the message function's `turn` log records (metrics in namespace `${local.ns}`)."
        }
      },
      {
        type = "alarm", x = 0, y = 2, width = 24, height = 4
        properties = {
          title  = "Alarms"
          alarms = concat(values(local.alarm_arns), var.dashboard_alarm_arns)
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 8, height = 6
        properties = {
          title  = "Turns, connections and messages"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = [
            [local.ns, "Turns", { label = "turns" }],
            [local.ns, "TurnErrors", { label = "turns answered with an error frame" }],
            ["AWS/ApiGateway", "ConnectCount", "ApiId", var.websocket_api_id, "Stage", var.websocket_stage_name, { label = "connects" }],
            ["AWS/ApiGateway", "MessageCount", "ApiId", var.websocket_api_id, "Stage", var.websocket_stage_name, { label = "messages (both ways)" }],
          ]
        }
      },
      {
        type = "metric", x = 8, y = 6, width = 8, height = 6
        properties = {
          title  = "Errors"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = concat(
            [for k in sort(keys(local.lambda_metric)) : local.lambda_metric[k]],
            [
              ["AWS/ApiGateway", "IntegrationError", "ApiId", var.websocket_api_id, "Stage", var.websocket_stage_name, { label = "API integration errors" }],
              ["AWS/ApiGateway", "ExecutionError", "ApiId", var.websocket_api_id, "Stage", var.websocket_stage_name, { label = "API execution errors" }],
              ["AWS/ApiGateway", "ClientError", "ApiId", var.websocket_api_id, "Stage", var.websocket_stage_name, { label = "API client errors (4XX before the integration)" }],
            ],
          )
        }
      },
      {
        type = "metric", x = 16, y = 6, width = 8, height = 6
        properties = {
          title  = "Message function duration (ms)"
          region = local.region
          period = 300
          view   = "timeSeries"
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", local.message, { stat = "p50", label = "p50" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.message, { stat = "p95", label = "p95" }],
            ["AWS/Lambda", "Duration", "FunctionName", local.message, { stat = "p99", label = "p99" }],
          ]
        }
      },
      {
        type = "log", x = 0, y = 12, width = 8, height = 6
        properties = {
          title  = "Turn latency percentiles (ms, from the turn records)"
          region = local.region
          view   = "timeSeries"
          query  = "${local.source} | filter message = \"turn\" | stats pct(duration_ms, 50) as p50, pct(duration_ms, 95) as p95, pct(duration_ms, 99) as p99 by bin(5m)"
        }
      },
      {
        type = "metric", x = 8, y = 12, width = 8, height = 6
        properties = {
          title  = "Model tokens and cost (USD)"
          region = local.region
          stat   = "Sum"
          period = 3600
          view   = "timeSeries"
          metrics = [
            [local.ns, "InputTokens", { label = "input tokens" }],
            [local.ns, "OutputTokens", { label = "output tokens" }],
            [local.ns, "ModelCostUSD", { label = "model cost (USD)", yAxis = "right" }],
          ]
        }
      },
      {
        type = "log", x = 16, y = 12, width = 8, height = 6
        properties = {
          title  = "Cost per conversation (USD)"
          region = local.region
          view   = "table"
          query  = "${local.source} | filter message = \"turn\" and ispresent(conversation_cost_usd) | stats max(conversation_cost_usd) as cost, count(*) as turns by session_id | stats count(*) as conversations, avg(cost) as avg_cost_usd, pct(cost, 50) as p50_cost_usd, pct(cost, 95) as p95_cost_usd, max(cost) as max_cost_usd, avg(turns) as avg_turns"
        }
      },
      {
        type = "log", x = 0, y = 18, width = 12, height = 6
        properties = {
          title  = "Most expensive conversations"
          region = local.region
          view   = "table"
          query  = "${local.source} | filter message = \"turn\" | stats max(conversation_cost_usd) as cost_usd, count(*) as turns, sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens by session_id | sort cost_usd desc | limit 20"
        }
      },
      {
        type = "metric", x = 12, y = 18, width = 12, height = 6
        properties = {
          title  = "Lambda concurrency and throttles"
          region = local.region
          period = 60
          view   = "timeSeries"
          metrics = concat(
            [["AWS/Lambda", "ConcurrentExecutions", { stat = "Maximum", label = "account concurrency" }]],
            [for k in sort(keys(local.fn)) : ["AWS/Lambda", "Throttles", "FunctionName", local.fn[k], { stat = "Sum", label = "${k} throttles" }]],
          )
          annotations = { horizontal = [{ label = "alarm", value = var.account_concurrency_alarm_threshold }] }
        }
      },
      {
        type = "metric", x = 0, y = 24, width = 12, height = 6
        properties = {
          title  = "DynamoDB: conversation table"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = [
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_name, { label = "read units" }],
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_name, { label = "write units" }],
            ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", var.table_name, { label = "read throttles", yAxis = "right" }],
            ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", var.table_name, { label = "write throttles", yAxis = "right" }],
          ]
        }
      },
    ],
    local.has_db ? [
      {
        type = "metric", x = 12, y = 24, width = 12, height = 6
        properties = {
          title  = "Database: instance and proxy"
          region = local.region
          period = 300
          view   = "timeSeries"
          metrics = concat(
            [
              ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_id, { stat = "Average", label = "CPU %" }],
              ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_id, { stat = "Maximum", label = "instance connections" }],
              ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", var.db_instance_id, { stat = "Minimum", label = "free storage (bytes)", yAxis = "right" }],
            ],
            var.db_proxy_name == null ? [] : [
              ["AWS/RDS", "ClientConnections", "ProxyName", var.db_proxy_name, { stat = "Maximum", label = "proxy client connections" }],
              ["AWS/RDS", "DatabaseConnectionsBorrowLatency", "ProxyName", var.db_proxy_name, { stat = "Average", label = "proxy borrow latency (µs)", yAxis = "right" }],
            ],
          )
        }
      },
    ] : [],
    local.has_bdrk ? [
      {
        type = "metric", x = 0, y = 30, width = 24, height = 6
        properties = {
          title  = "Bedrock: ${var.bedrock_model_id} (every caller in the account)"
          region = local.region
          period = 300
          view   = "timeSeries"
          metrics = [
            ["AWS/Bedrock", "Invocations", "ModelId", var.bedrock_model_id, { stat = "Sum", label = "invocations" }],
            ["AWS/Bedrock", "InvocationThrottles", "ModelId", var.bedrock_model_id, { stat = "Sum", label = "throttles" }],
            ["AWS/Bedrock", "InvocationServerErrors", "ModelId", var.bedrock_model_id, { stat = "Sum", label = "server errors" }],
            ["AWS/Bedrock", "InvocationLatency", "ModelId", var.bedrock_model_id, { stat = "p95", label = "latency p95 (ms)", yAxis = "right" }],
          ]
        }
      },
    ] : [],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.widgets })
}
