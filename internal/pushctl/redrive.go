package pushctl

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/delayed-push/delayed-push/client"
)

var redriveCommand = command{
	name:    "redrive",
	usage:   "[--source sender|economy] [--dry-run] [--max N] [--include-invalid]",
	summary: "move parked pushes from the dead-letter queue back to the push queue, each once",
	notes: "Parking attributes (parkReason, parkedAt, receiveCount, invalidField, requeues) are dropped;\n" +
		"the body and the other attributes are kept. A message is deleted from the dead-letter queue only\n" +
		"after it is on the push queue. --dry-run lists what would move and leaves it.\n\n" +
		"A run moves each message at most once and never what it moved itself, should the sender park it\n" +
		"again: it leaves what was parked after it started, or holds a push it moved already, and stops\n" +
		"when a receive brings nothing else (or at --max). Pushes parked as invalid (invalidField, or a\n" +
		"parkReason \"invalid push: ...\") are skipped and listed with their reason: the sender would park\n" +
		"them again; --include-invalid moves them too (after a sender fix that accepts them). What the run\n" +
		"does not move is hidden while it lasts and visible again when it ends (within 5 minutes if it is\n" +
		"killed). It prints what it moved, skipped and left, and why it stopped.\n\n" +
		"--source economy moves from the scheduler's dead-letter queue (SchedulerDeadLetterQueueUrl) instead:\n" +
		"economy pushes whose schedule could not put them on the push queue. EventBridge Scheduler puts\n" +
		"there the schedule's input, the push with its id, revision and dueAt, with attributes saying why\n" +
		"(ERROR_CODE, ERROR_MESSAGE, RETRY_ATTEMPTS, EXHAUSTED_RETRY_CONDITION, SCHEDULE_ARN, ...): the body\n" +
		"moves without them. A body cut short (IS_PAYLOAD_TRUNCATED) or without an id and a dueAt is skipped.\n" +
		"The sender holds a moved push until its due time, drops one cancelled or rescheduled meanwhile, and\n" +
		"records one past its lateness limit expired.",
	options: func() options { return &redriveOptions{} },
}

type redriveOptions struct {
	dryRun, includeInvalid bool
	max                    int
	source                 string
}

// The dead-letter queues redrive moves from (--source).
const (
	sourceSender  = "sender"  // DeadLetterQueueUrl: pushes the sender parked
	sourceEconomy = "economy" // SchedulerDeadLetterQueueUrl: economy pushes a schedule could not queue
)

func (o *redriveOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.source, "source", sourceSender, "the dead-letter queue to move from: sender (pushes the sender parked) or economy (pushes an economy schedule could not put on the push queue)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "list what would move, move nothing")
	fs.IntVar(&o.max, "max", 1000, "move at most this many")
	fs.BoolVar(&o.includeInvalid, "include-invalid", false, "also move pushes parked as invalid (skipped otherwise: the sender would park them again)")
}

func (o *redriveOptions) run(ctx context.Context, a *App, common commonFlags, _ []string) error {
	if o.max < 1 {
		return usagef("--max must be at least 1, got %d", o.max)
	}
	if o.source != sourceSender && o.source != sourceEconomy {
		return usagef(`--source must be "sender" or "economy", got %q`, o.source)
	}
	b, err := a.Connect(ctx, common.target)
	if err != nil {
		return err
	}
	dlq, pushQueue := b.Outputs["DeadLetterQueueUrl"], b.Outputs[client.OutputPushQueueURL]
	if o.source == sourceEconomy {
		dlq = b.Outputs[client.OutputSchedulerDeadLetterQueueURL]
		if dlq == "" {
			return fmt.Errorf("stack %s has no %s output: redeploy it (stacks from before it have the queue's ARN only)", common.target.Stack, client.OutputSchedulerDeadLetterQueueURL)
		}
	}
	if dlq == "" || pushQueue == "" {
		return fmt.Errorf("stack %s has no DeadLetterQueueUrl or PushQueueUrl output", common.target.Stack)
	}
	r := &redrive{q: b.Queues, dlq: dlq, pushQueue: pushQueue, max: o.max, dryRun: o.dryRun, invalid: o.includeInvalid,
		economy: o.source == sourceEconomy,
		started: now(), held: map[string]string{}, moved: map[string]bool{}, movedPushes: map[string]bool{},
		report: redriveReport{Source: o.source, DryRun: o.dryRun, Moved: []redriven{}, Skipped: []redriven{}, Left: []redriven{}}}
	defer func() {
		if n := r.giveBack(context.WithoutCancel(ctx)); n > 0 {
			fmt.Fprintf(a.Stderr, "pushctl redrive: could not give back %d messages it did not move: they are visible again within %d s\n", n, redriveVisibility)
		}
	}()
	if err := r.run(ctx); err != nil {
		return err
	}
	return a.printRedrive(common.json, r.report)
}

// redriveVisibility (seconds) hides each message a redrive receives for longer than a run
// lasts, so a message it skips or leaves is not received again in the same run (one received
// again all the same is known by its message id). The run makes what it did not move visible
// again when it ends; a run killed before that leaves it hidden this long.
const redriveVisibility = 300

// invalidPrefix starts the parkReason of a push the sender parks as invalid (delivery.park).
const invalidPrefix = "invalid push:"

// parkingAttributes are what the sender adds when it parks a push; a redrive drops them so the
// push starts afresh (requeues: the count of requeues without progress).
var parkingAttributes = map[string]bool{"parkReason": true, "parkedAt": true, "receiveCount": true, "invalidField": true, "requeues": true}

// redriven is one dead-letter message as a redrive reports it.
type redriven struct {
	MessageID    string `json:"messageId"`
	PushID       string `json:"pushId,omitempty"`
	ParkReason   string `json:"parkReason,omitempty"`
	InvalidField string `json:"invalidField,omitempty"`
	Why          string `json:"why,omitempty"` // why it was left on the dead-letter queue
}

// redriveReport is what a run did.
type redriveReport struct {
	Source  string     `json:"source"` // sender or economy: the dead-letter queue moved from
	DryRun  bool       `json:"dryRun"`
	Moved   []redriven `json:"moved"`   // to the push queue (a dry run: would be)
	Skipped []redriven `json:"skipped"` // parked as invalid (economy: not a whole push): they stay
	Left    []redriven `json:"left"`    // parked after the run started, or a push it moved already
	Stopped string     `json:"stopped"` // why the run ended
}

// redrive is one run of pushctl redrive. It moves each message at most once and never what
// it fed to the sender itself: the sender may park a moved push again at once (an invalid one
// always), and receiving that would loop until --max.
type redrive struct {
	q               Queues
	dlq, pushQueue  string
	max             int
	dryRun, invalid bool // invalid: move pushes parked as invalid too
	economy         bool // from the scheduler's dead-letter queue: Scheduler's attributes, no parking ones
	started         time.Time

	held        map[string]string // message id: latest receipt handle, of those received and not moved
	order       []string          // held message ids, in the order received
	moved       map[string]bool   // message ids moved (deleted from the dead-letter queue)
	movedPushes map[string]bool   // push ids and body hashes moved: what may come back parked again
	report      redriveReport
}

// run receives until the dead-letter queue has nothing left that this run may move, or --max
// is reached. A receive that brings nothing to move or skip ends it: only messages seen
// before (visible again, or a deleted one SQS delivered again) or parked after the start.
// Each receive that goes on handled a message from before the start for the first time, so
// the run ends even if the sender parks everything straight back.
func (r *redrive) run(ctx context.Context) error {
	for len(r.report.Moved) < r.max {
		out, err := r.q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(r.dlq), MaxNumberOfMessages: int32(min(10, r.max-len(r.report.Moved))), WaitTimeSeconds: 1,
			VisibilityTimeout: redriveVisibility, MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			return fmt.Errorf("receive from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			r.report.Stopped = "no more messages to receive on the dead-letter queue"
			return nil
		}
		progress := false
		for _, m := range out.Messages {
			handled, err := r.handle(ctx, m)
			if err != nil {
				return err
			}
			progress = progress || handled
		}
		if !progress {
			r.report.Stopped = "a receive brought only messages this run had handled or left already"
			return nil
		}
	}
	r.report.Stopped = fmt.Sprintf("--max %d reached; more may be waiting", r.max)
	return nil
}

// handle moves, skips or leaves one received message. It reports whether the message was
// parked before the run and new to it (moved or skipped), which keeps the run going.
func (r *redrive) handle(ctx context.Context, m sqstypes.Message) (bool, error) {
	id, handle := aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
	if r.moved[id] {
		// SQS may deliver a deleted message again: it is on the push queue already.
		_, _ = r.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.dlq), ReceiptHandle: aws.String(handle)})
		return false, nil
	}
	if _, ok := r.held[id]; ok {
		r.held[id] = handle // hidden again under this handle, which gives it back at the end
		return false, nil
	}
	msg := describe(m)
	if r.economy {
		msg = describeDeadLetter(m)
	}
	if msg.Why = r.leave(m); msg.Why != "" {
		r.hold(id, handle)
		r.report.Left = append(r.report.Left, msg)
		return false, nil
	}
	if r.economy {
		if why := notAPush(m); why != "" {
			msg.Why = why
			r.hold(id, handle)
			r.report.Skipped = append(r.report.Skipped, msg)
			return true, nil
		}
	} else if isInvalid(m) && !r.invalid {
		r.hold(id, handle)
		r.report.Skipped = append(r.report.Skipped, msg)
		return true, nil
	}
	if r.dryRun {
		r.hold(id, handle)
		r.remember(m)
		r.report.Moved = append(r.report.Moved, msg)
		return true, nil
	}
	return true, r.move(ctx, m, msg)
}

// move sends m to the push queue without its parking attributes, then deletes it from the
// dead-letter queue: never deleted before it is on the push queue.
func (r *redrive) move(ctx context.Context, m sqstypes.Message, msg redriven) error {
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range m.MessageAttributes {
		if !parkingAttributes[k] && !r.economy {
			attrs[k] = v
		}
	}
	if _, err := r.q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.pushQueue), MessageBody: m.Body, MessageAttributes: attrs}); err != nil {
		r.hold(msg.MessageID, aws.ToString(m.ReceiptHandle))
		return fmt.Errorf("send %s to the push queue (it stays on the dead-letter queue; %d moved before it): %w", msg.MessageID, len(r.report.Moved), err)
	}
	r.moved[msg.MessageID] = true
	r.remember(m)
	if _, err := r.q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
		return fmt.Errorf("%s is on the push queue but could not be deleted from the dead-letter queue (it may be sent twice; the delivery log keeps devices from getting it twice): %w", msg.MessageID, err)
	}
	r.report.Moved = append(r.report.Moved, msg)
	return nil
}

// leave says why a message new to this run stays where it is, or "": it was parked after the
// run started (most likely a push the run moved, parked again by the sender), or it holds a
// push the run moved already (the same, when the clocks disagree: the sender parks an
// invalid push without an id under a new push id, but with the same body).
func (r *redrive) leave(m sqstypes.Message) string {
	if at, ok := parkedSince(m, r.started); ok {
		return fmt.Sprintf("parked at %s, after this run started: not moved twice in one run", at.UTC().Format(time.RFC3339))
	}
	if p := attrValue(m, "pushId"); p != "" && r.movedPushes["id:"+p] {
		return fmt.Sprintf("push %s was moved earlier in this run", p)
	}
	if r.movedPushes[bodyKey(m)] {
		return "the same body was moved earlier in this run"
	}
	return ""
}

// remember records m's push as moved.
func (r *redrive) remember(m sqstypes.Message) {
	if p := attrValue(m, "pushId"); p != "" {
		r.movedPushes["id:"+p] = true
	}
	r.movedPushes[bodyKey(m)] = true
}

func (r *redrive) hold(id, handle string) {
	if _, ok := r.held[id]; !ok {
		r.order = append(r.order, id)
	}
	r.held[id] = handle
}

// giveBack makes every message received and not moved visible again at once, rather than
// after redriveVisibility; it returns how many could not be.
func (r *redrive) giveBack(ctx context.Context) int {
	failed := 0
	for _, id := range r.order {
		if _, err := r.q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(r.dlq), ReceiptHandle: aws.String(r.held[id]), VisibilityTimeout: 0}); err != nil {
			failed++
		}
	}
	r.order = nil
	return failed
}

// parkedSince returns when m was parked, if that was at or after t: the sender's parkedAt, or
// SQS's SentTimestamp (when the sender parked it, or, for a message the queue moved there
// itself, when it was sent to the push queue, perhaps by this run).
func parkedSince(m sqstypes.Message, t time.Time) (time.Time, bool) {
	if at, err := time.Parse(time.RFC3339Nano, attrValue(m, "parkedAt")); err == nil && !at.Before(t) {
		return at, true
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		if at := time.UnixMilli(ms); !at.Before(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// isInvalid reports whether the sender parked m as an invalid push: it names the field
// (invalidField), or its reason says so (a push that is not JSON names none).
func isInvalid(m sqstypes.Message) bool {
	_, field := m.MessageAttributes["invalidField"]
	return field || strings.HasPrefix(attrValue(m, "parkReason"), invalidPrefix)
}

func describe(m sqstypes.Message) redriven {
	return redriven{MessageID: aws.ToString(m.MessageId), PushID: attrValue(m, "pushId"),
		ParkReason: attrValue(m, "parkReason"), InvalidField: attrValue(m, "invalidField")}
}

// describeDeadLetter is a message of the scheduler's dead-letter queue as a redrive reports
// it: the push's id from the body, why the schedule gave up from Scheduler's attributes.
func describeDeadLetter(m sqstypes.Message) redriven {
	var p struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &p)
	reason := attrValue(m, "ERROR_CODE")
	if msg := attrValue(m, "ERROR_MESSAGE"); msg != "" {
		reason += ": " + msg
	}
	return redriven{MessageID: aws.ToString(m.MessageId), PushID: p.ID, ParkReason: reason}
}

// notAPush says why a message of the scheduler's dead-letter queue is not moved, or "": its
// body was cut short, or is not a push with an id and a due time (without one, the sender
// could not hold it to its due time).
func notAPush(m sqstypes.Message) string {
	if attrValue(m, "IS_PAYLOAD_TRUNCATED") == "true" {
		return "the body was cut short (IS_PAYLOAD_TRUNCATED)"
	}
	var p struct {
		ID    string `json:"id"`
		DueAt string `json:"dueAt"`
	}
	if json.Unmarshal([]byte(aws.ToString(m.Body)), &p) != nil || p.ID == "" || p.DueAt == "" {
		return "the body is not a push with an id and a dueAt"
	}
	return ""
}

func bodyKey(m sqstypes.Message) string {
	return fmt.Sprintf("body:%x", sha256.Sum256([]byte(aws.ToString(m.Body))))
}

func attrValue(m sqstypes.Message, name string) string {
	if v, ok := m.MessageAttributes[name]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}

func (a *App) printRedrive(asJSON bool, rep redriveReport) error {
	if asJSON {
		return a.printJSON(rep)
	}
	verb := "moved to the push queue"
	if rep.DryRun {
		verb = "would move (dry run)"
	}
	fmt.Fprintf(a.Stdout, "%d %s\n", len(rep.Moved), verb)
	for _, m := range rep.Moved {
		reason := m.ParkReason
		if reason == "" {
			reason = "no parkReason (the queue moved it there itself)"
		}
		fmt.Fprintf(a.Stdout, "  %s: %s\n", m.label(), reason)
	}
	if len(rep.Skipped) > 0 && rep.Source == sourceEconomy {
		fmt.Fprintf(a.Stdout, "%d skipped: they stay on the scheduler's dead-letter queue\n", len(rep.Skipped))
		for _, m := range rep.Skipped {
			fmt.Fprintf(a.Stdout, "  %s: %s\n", m.label(), m.Why)
		}
	} else if len(rep.Skipped) > 0 {
		fmt.Fprintf(a.Stdout, "%d skipped, parked as invalid: they stay on the dead-letter queue (the sender would park them again; --include-invalid moves them)\n", len(rep.Skipped))
		for _, m := range rep.Skipped {
			fmt.Fprintf(a.Stdout, "  %s: %s\n", m.label(), m.ParkReason)
		}
	}
	if len(rep.Left) > 0 {
		fmt.Fprintf(a.Stdout, "%d received and left on the dead-letter queue\n", len(rep.Left))
		for _, m := range rep.Left {
			fmt.Fprintf(a.Stdout, "  %s: %s\n", m.label(), m.Why)
		}
	}
	fmt.Fprintf(a.Stdout, "stopped: %s\n", rep.Stopped)
	return nil
}

func (m redriven) label() string {
	if m.PushID == "" {
		return m.MessageID
	}
	return m.MessageID + " push " + m.PushID
}
