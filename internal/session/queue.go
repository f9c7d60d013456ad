package session

// queue is a FIFO of deliveries on a ring buffer that shrinks back when it
// drains, so an idle session holds no large array.
type queue struct {
	buf   []*Delivery
	head  int
	n     int
	bytes int64 // sum of Msg.Size() of queued deliveries
}

func (q *queue) len() int { return q.n }

func (q *queue) push(d *Delivery) {
	d.Msg.Keep() // a queued message outlives its publish
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = d
	q.n++
	q.bytes += int64(d.Msg.Size())
}

// pushFront puts d back at the head.
func (q *queue) pushFront(d *Delivery) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = d
	q.n++
	q.bytes += int64(d.Msg.Size())
}

func (q *queue) peek() *Delivery { return q.buf[q.head] }

func (q *queue) pop() *Delivery {
	d := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= int64(d.Msg.Size())
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 64 {
			q.buf = nil
		}
	}
	return d
}

func (q *queue) grow() {
	size := 2 * len(q.buf)
	if size == 0 {
		size = 4
	}
	buf := make([]*Delivery, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}
