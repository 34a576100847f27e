package delayedpush

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// newDashboard shows the whole pipeline on one CloudWatch dashboard: schedules, the push
// queue, the sender, what it delivered and how late, the dead-letter queues, and the side
// paths (HTTP API, device events, Shopify orders) that exist, and the economy engine's schedules.
func newDashboard(scope constructs.Construct, id string, d *DelayedPush) awscloudwatch.Dashboard {
	minute := awscdk.Duration_Minutes(jsii.Number(1))
	sum := &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Sum")}
	max := &awscloudwatch.MetricOptions{Period: minute, Statistic: jsii.String("Maximum")}
	graph := func(title string, left ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: &left, Width: jsii.Number(8)})
	}
	db := awscloudwatch.NewDashboard(scope, jsii.String(id), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	db.AddWidgets(
		graph("Schedules (executions)", d.StateMachine.MetricStarted(sum), d.StateMachine.MetricSucceeded(sum),
			d.StateMachine.MetricFailed(sum), d.StateMachine.MetricTimedOut(sum), d.StateMachine.MetricAborted(sum)),
		graph("Push queue", d.PushQueue.MetricApproximateNumberOfMessagesVisible(max),
			d.PushQueue.MetricApproximateAgeOfOldestMessage(max), d.DeadLetterQueue.MetricApproximateNumberOfMessagesVisible(max)),
		graph("Sender", d.SenderFunction.MetricInvocations(sum), d.SenderFunction.MetricErrors(sum),
			d.SenderFunction.MetricThrottles(sum), d.SenderFunction.MetricDuration(max)),
	)
	db.AddWidgets(
		graph("Deliveries", SenderMetric("Sent", minute, "Sum"), SenderMetric("PermanentFailures", minute, "Sum"),
			SenderMetric("TransientFailures", minute, "Sum"), SenderMetric("EndpointsDisabled", minute, "Sum"),
			SenderMetric("Expired", minute, "Sum"), SenderMetric("Parked", minute, "Sum")),
		graph("Lateness (due time to SNS, ms)", LatenessMetric(minute, "p50"), LatenessMetric(minute, "p99"), LatenessMetric(minute, "Maximum")),
		graph("Device events", d.DeviceEventsFunction.MetricInvocations(sum), d.DeviceEventsFunction.MetricErrors(sum),
			d.DeviceEventsDeadLetterQueue.MetricApproximateNumberOfMessagesVisible(max),
			d.DeviceEventsUndeliveredQueue.MetricApproximateNumberOfMessagesVisible(max)),
	)
	// The economy engine's schedules (EventBridge Scheduler's metrics of the group): invocations,
	// failures and what went to the economy dead-letter queue.
	g := d.EconomyScheduleGroup
	more := []awscloudwatch.IWidget{graph("Schedules (economy engine)", g.MetricAttempts(sum), g.MetricTargetErrors(sum),
		g.MetricThrottled(sum), g.MetricDropped(sum), g.MetricSentToDLQ(sum),
		d.EconomyDeadLetterQueue.MetricApproximateNumberOfMessagesVisible(max))}
	if d.ApiFunction != nil {
		more = append(more, graph("HTTP API function", d.ApiFunction.MetricInvocations(sum), d.ApiFunction.MetricErrors(sum),
			d.ApiFunction.MetricThrottles(sum), d.ApiFunction.MetricDuration(max)))
	}
	if d.ShopifyOrdersFunction != nil {
		more = append(more, graph("Shopify orders", d.ShopifyWebhookFunction.MetricInvocations(sum), d.ShopifyWebhookFunction.MetricErrors(sum),
			d.OrdersQueue.MetricApproximateNumberOfMessagesVisible(max), d.OrdersDeadLetterQueue.MetricApproximateNumberOfMessagesVisible(max),
			d.ShopifyOrdersFunction.MetricErrors(sum)))
	}
	db.AddWidgets(more...)
	return db
}
