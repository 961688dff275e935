/* queue.c: a ring buffer of event ids and a tiny scheduler loop over it. */

long capacity = 64;
long head = 0;
long tail = 0;
long size = 0;
long dropped = 0;
long storage = 0;

void queue_init(long slots) {
  capacity = slots;
  storage = alloc_longs(slots);
  head = 0;
  tail = 0;
  size = 0;
  dropped = 0;
}

int queue_push(long event) {
  if (size == capacity) {
    dropped += 1;
    return 0;
  }
  store(storage, tail, event);
  tail = (tail + 1) % capacity;
  size = size + 1;
  return 1;
}

long queue_pop() {
  long event = -1;
  if (size == 0) return -1;
  event = load(storage, head);
  head = (head + 1) % capacity;
  size = size - 1;
  return event;
}

long queue_peek() {
  if (size == 0) return -1;
  return load(storage, head);
}

// Priority of an event: urgent ids are multiples of 7, background ids end in 9.
int priority(long event) {
  if (event % 7 == 0) return 2;
  if (event % 10 == 9) return 0;
  return 1;
}

long run_scheduler(long rounds, long seed) {
  long handled = 0;
  long urgent = 0;
  long background = 0;
  long r = 0;
  long event = 0;
  long state = seed;
  for (r = 0; r < rounds; r = r + 1) {
    state = (state * 1103515245 + 12345) % 2147483648;
    if (state % 3 != 0) {
      queue_push(state % 1000);
    }
    if (r % 2 == 0) {
      event = queue_pop();
      if (event >= 0) {
        handled += 1;
        if (priority(event) == 2) {
          urgent = urgent + 1;
        } else if (priority(event) == 0) {
          background = background + 1;
        }
      }
    }
  }
  print_long("handled", handled);
  print_long("urgent", urgent);
  print_long("background", background);
  print_long("still queued", size);
  print_long("dropped", dropped);
  return handled;
}

int main() {
  queue_init(16);
  if (queue_pop() != -1) {
    print_text("an empty queue must pop -1\n");
    return 1;
  }
  queue_push(3);
  queue_push(14);
  if (queue_peek() != 3 || size != 2) {
    print_text("peek failed\n");
    return 1;
  }
  queue_pop();
  queue_pop();
  run_scheduler(500, 20250314);
  release(storage);
  return 0;
}
