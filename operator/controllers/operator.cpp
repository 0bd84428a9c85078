#include "operator/controllers/operator.h"

#include "common/log.h"

namespace gpupool::controllers {

Operator::Operator(kube::Client& client, ControlClient& control, metrics::OperatorMetrics& metrics,
                   OperatorOptions options)
    : raw_(client),
      control_(control),
      metrics_(metrics),
      options_(std::move(options)),
      client_(client, leading_),
      events_(client_, options_.election.identity, options_.events) {
  pod_informer_ = std::make_unique<kube::Informer>(raw_, kube::Pods(), options_.informer);
  pool_informer_ = std::make_unique<kube::Informer>(raw_, kube::GPUPools(), options_.informer);
  pod_informer_->AddHandlers({[this](const kube::Json& p) { OnPod(p); },
                              [this](const kube::Json&, const kube::Json& p) { OnPod(p); },
                              [this](const kube::Json& p) { OnPod(p); }});
  auto on_pool = [this](const kube::Json& p) {
    std::lock_guard lock(term_mu_);
    if (term_) term_->pool_queue.Add(kube::NameOf(p));
  };
  pool_informer_->AddHandlers(
      {on_pool, [on_pool](const kube::Json&, const kube::Json& p) { on_pool(p); }, on_pool});
}

Operator::~Operator() {
  Stop();
}

Status Operator::Start(std::chrono::milliseconds sync_timeout) {
  pool_informer_->Start();
  pod_informer_->Start();
  if (!pool_informer_->WaitForSync(sync_timeout) || !pod_informer_->WaitForSync(sync_timeout)) {
    return Status::Unavailable("informers did not sync within " + std::to_string(sync_timeout.count()) +
                               " ms");
  }
  if (!options_.leader_elect) {
    StartLeading();
    return Status::Ok();
  }
  leader::ElectionCallbacks callbacks;
  callbacks.on_started_leading = [this] {
    std::lock_guard lock(start_mu_);
    if (start_thread_.joinable()) start_thread_.join();
    start_thread_ = std::thread([this] { StartLeading(); });
  };
  callbacks.on_stopped_leading = [this] { StopLeading(); };
  callbacks.on_new_leader = [](const std::string& id) { GPUPOOL_LOG(kInfo) << "leader is now " << id; };
  GPUPOOL_ASSIGN_OR_RETURN(elector_, leader::LeaderElector::Create(raw_, options_.election, callbacks));
  elector_->Start();
  return Status::Ok();
}

void Operator::Stop() {
  if (elector_) elector_->Stop();  // releases the lease and calls StopLeading
  StopLeading();
  {
    std::lock_guard lock(start_mu_);
    if (start_thread_.joinable()) start_thread_.join();
  }
  StopLeading();  // a term that was still starting when the elector stopped
  elector_.reset();
  if (pod_informer_) pod_informer_->Stop();
  if (pool_informer_) pool_informer_->Stop();
}

std::string Operator::NotReady() const {
  if (!pool_informer_->HasSynced()) return "GPUPool informer not synced";
  if (!pod_informer_->HasSynced()) return "pod informer not synced";
  return "";
}

void Operator::StartLeading() {
  std::lock_guard lead(lead_mu_);
  if (options_.leader_elect && !(elector_ && elector_->IsLeader())) return;  // lost it already
  auto term = std::make_shared<Term>();
  term->pools = std::make_unique<PoolController>(
      client_, pools(), control_, term->state, events_, metrics_,
      [this](const std::string& p) { OnCapacityChanged(p); }, options_.pool);
  term->binder = std::make_unique<Binder>(
      client_, pods(), control_, term->state, events_, metrics_,
      [this](const std::string& p, bool freed) { OnPoolChanged(p, freed); }, options_.binder);
  leading_ = true;
  metrics_.SetLeader(true);
  ++terms_;
  // The ledger before any placement: pools as last published, then probed once, then every binding
  // claimed oldest first. A pod placed before this would take a share a running pod holds.
  term->pools->SeedFromStatus();
  for (const kube::Json& p : pools().List()) {
    auto probed = term->pools->Reconcile(kube::NameOf(p));
    if (!probed.ok()) {
      GPUPOOL_LOG(kWarn) << "first probe of " << kube::NameOf(p) << ": " << probed.status().ToString();
    }
  }
  const int claimed = term->binder->Rebuild();
  term->binder->RevokeOrphans();
  GPUPOOL_LOG(kInfo) << "leading: ledger rebuilt with " << claimed << " bindings";
  auto on_error = [this](const std::string& controller, const Status&) {
    metrics_.ReconcileError(controller);
  };
  Term* t = term.get();
  term->pool_runner = std::make_unique<Runner>(
      "pool", term->pool_queue, [t](const std::string& k) { return t->pools->Reconcile(k); },
      options_.pool_workers, on_error);
  term->pod_runner = std::make_unique<Runner>(
      "binder", term->pod_queue, [t](const std::string& k) { return t->binder->Reconcile(k); },
      options_.binder_workers, on_error);
  {
    std::lock_guard lock(term_mu_);
    term_ = term;
  }
  for (const kube::Json& p : pools().List())
    term->pool_queue.AddAfter(kube::NameOf(p), options_.pool.probe_interval);
  for (const kube::Json& p : pods().List()) {
    if (term->binder->Interested(p)) term->pod_queue.Add(kube::ObjectKey(p));
  }
  term->pool_runner->Start();
  term->pod_runner->Start();
}

void Operator::StopLeading() {
  leading_ = false;  // first: every write is refused from now on
  metrics_.SetLeader(false);
  std::lock_guard lead(lead_mu_);
  leading_ = false;  // again: a term that was starting meanwhile may have set it
  metrics_.SetLeader(false);
  std::shared_ptr<Term> term;
  {
    std::lock_guard lock(term_mu_);
    term.swap(term_);
  }
  if (!term) return;
  term->pool_runner->Stop();
  term->pod_runner->Stop();
  metrics_.ClearPending();
  GPUPOOL_LOG(kInfo) << "not leading: controllers stopped";
}

void Operator::OnPod(const kube::Json& pod) {
  std::lock_guard lock(term_mu_);
  if (term_ && term_->binder->Interested(pod)) term_->pod_queue.Add(kube::ObjectKey(pod));
}

void Operator::OnCapacityChanged(const std::string& pool) {
  std::shared_ptr<Term> term;
  {
    std::lock_guard lock(term_mu_);
    term = term_;
  }
  if (!term) return;
  // GPUs appeared or came back: bindings that named them are claimed before anyone new is placed.
  term->binder->Rebuild();
  OnPoolChanged(pool, /*freed=*/true);
}

void Operator::OnPoolChanged(const std::string& pool, bool freed) {
  std::shared_ptr<Term> term;
  {
    std::lock_guard lock(term_mu_);
    term = term_;
  }
  if (!term) return;
  if (!pool.empty()) term->pool_queue.Add(pool);
  if (freed) {
    for (const std::string& key : term->binder->Waiting()) term->pod_queue.Add(key);
  }
}

}  // namespace gpupool::controllers
