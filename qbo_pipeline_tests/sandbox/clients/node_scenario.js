// A scenario over node-quickbooks' documented API against the local QBO sandbox.
// Only the base URLs and the credentials differ from Intuit (environment variables set by
// bench/client_suites.py). Prints one JSON line per step: {"step", "ok", "error"?}.
'use strict'
var QuickBooks = require('node-quickbooks')

var root = process.env.QBO_SANDBOX_ROOT
QuickBooks.V3_ENDPOINT_BASE_URL = root + '/v3/company/'
QuickBooks.TOKEN_URL = root + '/oauth2/v1/tokens/bearer'
QuickBooks.REVOKE_URL = root + '/v2/oauth2/tokens/revoke'

var qbo = new QuickBooks(process.env.QBO_CLIENT_ID, process.env.QBO_CLIENT_SECRET, process.env.QBO_ACCESS_TOKEN,
  false, process.env.QBO_REALM, true, false, 75, '2.0', process.env.QBO_REFRESH_TOKEN)

function call (method) {
  var args = Array.prototype.slice.call(arguments, 1)
  return new Promise(function (resolve, reject) {
    args.push(function (err, data) { return err ? reject(err) : resolve(data) })
    qbo[method].apply(qbo, args)
  })
}

function check (condition, message) {
  if (!condition) throw new Error(message)
}

var steps = []
function step (name, body) { steps.push([name, body]) }

var state = { suffix: String(Date.now()) }

step('findAccounts returns the sample chart (> 20, Travel is an Expense)', async function () {
  var all = await call('findAccounts')
  check(all.QueryResponse.Account.length > 20, 'only ' + all.QueryResponse.Account.length + ' accounts')
  var travel = await call('findAccounts', { Name: 'Travel' })
  check(travel.QueryResponse.Account[0].AccountType === 'Expense', 'Travel is not an Expense account')
  var income = await call('findAccounts', { Name: 'Services' })
  state.income = income.QueryResponse.Account[0].Id
})

step('createCustomer / getCustomer / updateCustomer (sparse)', async function () {
  var customer = await call('createCustomer', { DisplayName: 'Node Customer ' + state.suffix,
    PrimaryEmailAddr: { Address: 'node@example.com' } })
  check(customer.Id && customer.SyncToken === '0', 'no Id')
  var read = await call('getCustomer', customer.Id)
  check(read.DisplayName === customer.DisplayName, 'read back differs')
  var updated = await call('updateCustomer', { Id: customer.Id, SyncToken: read.SyncToken, sparse: true,
    CompanyName: 'Node Co' })
  check(updated.SyncToken === '1' && updated.CompanyName === 'Node Co', 'sparse update failed')
  state.customer = updated
})

step('createItem (Service with an income account)', async function () {
  var item = await call('createItem', { Name: 'Node Item ' + state.suffix, Type: 'Service', UnitPrice: 40,
    IncomeAccountRef: { value: state.income } })
  check(item.Id && item.IncomeAccountRef.value === state.income, 'item not created')
  state.item = item
})

step('createInvoice computes TotalAmt and Balance', async function () {
  var invoice = await call('createInvoice', { CustomerRef: { value: state.customer.Id },
    Line: [{ DetailType: 'SalesItemLineDetail', Amount: 120,
      SalesItemLineDetail: { ItemRef: { value: state.item.Id }, Qty: 3, UnitPrice: 40 } }] })
  check(invoice.TotalAmt === 120 && invoice.Balance === 120, 'totals ' + invoice.TotalAmt + '/' + invoice.Balance)
  state.invoice = invoice
})

step('createPayment applies to the invoice', async function () {
  var payment = await call('createPayment', { CustomerRef: { value: state.customer.Id }, TotalAmt: 50,
    Line: [{ Amount: 50, LinkedTxn: [{ TxnId: state.invoice.Id, TxnType: 'Invoice' }] }] })
  check(payment.Id && payment.UnappliedAmt === 0, 'payment not applied')
  var invoice = await call('getInvoice', state.invoice.Id)
  check(invoice.Balance === 70, 'invoice balance ' + invoice.Balance)
  state.payment = payment
})

step('findInvoices with criteria, findPayments with limit', async function () {
  var found = await call('findInvoices', { CustomerRef: state.customer.Id })
  check(found.QueryResponse.Invoice.length === 1, 'invoice not found by customer')
  var payments = await call('findPayments', { limit: 5 })
  check(payments.QueryResponse.Payment.length === 5, 'expected 5 payments, got ' + payments.QueryResponse.Payment.length)
  var count = await call('findCustomers', { count: true })
  check(count.QueryResponse.totalCount > 20, 'count ' + JSON.stringify(count.QueryResponse))
})

step('reportAgedReceivables shows the open balance', async function () {
  var report = await call('reportAgedReceivables', { customer: state.customer.Id })
  var rows = report.Rows.Row.filter(function (r) { return r.ColData && r.ColData[0].id === state.customer.Id })
  check(rows.length === 1 && rows[0].ColData[rows[0].ColData.length - 1].value === '70.00', JSON.stringify(report.Rows))
})

step('reportProfitAndLoss and reportBalanceSheet balance', async function () {
  var pl = await call('reportProfitAndLoss', { customer: state.customer.Id })
  var net = pl.Rows.Row.filter(function (r) { return r.group === 'NetIncome' })[0]
  check(net.Summary.ColData[1].value === '120.00', 'net income ' + JSON.stringify(net))
  var bs = await call('reportBalanceSheet', {})
  var total = function (g) { return bs.Rows.Row.filter(function (r) { return r.group === g })[0].Summary.ColData[1].value }
  check(total('TotalAssets') === total('TotalLiabilitiesAndEquity'), 'balance sheet does not balance')
})

step('reportTrialBalance debits equal credits', async function () {
  var tb = await call('reportTrialBalance', {})
  var last = tb.Rows.Row[tb.Rows.Row.length - 1].Summary.ColData
  check(last[1].value === last[2].value, 'trial balance ' + JSON.stringify(last))
})

step('voidInvoice is refused while a payment is applied; deletePayment then voidInvoice', async function () {
  var failed = false
  try { await call('voidInvoice', state.invoice.Id) } catch (e) { failed = true }
  check(failed, 'void of a paid invoice was accepted')
  await call('deletePayment', state.payment.Id)
  var voided = await call('voidInvoice', state.invoice.Id)
  check(voided.Invoice ? voided.Invoice.TotalAmt === 0 : voided.TotalAmt === 0, 'not voided: ' + JSON.stringify(voided))
})

step('batch creates two customers', async function () {
  var answer = await call('batch', [
    { bId: 'a', operation: 'create', Customer: { DisplayName: 'Node Batch A ' + state.suffix } },
    { bId: 'b', operation: 'create', Customer: { DisplayName: 'Node Batch B ' + state.suffix } }])
  check(answer.BatchItemResponse.length === 2 && answer.BatchItemResponse.every(function (r) { return r.Customer }),
    JSON.stringify(answer))
})

step('changeDataCapture sees the new customer', async function () {
  var since = new Date(Date.now() - 10 * 60 * 1000).toISOString()
  var cdc = await call('changeDataCapture', ['Customer'], since)
  var ids = cdc.CDCResponse[0].QueryResponse[0].Customer.map(function (c) { return c.Id })
  check(ids.indexOf(state.customer.Id) >= 0, 'customer not in CDC')
})

step('refreshAccessToken rotates the refresh token', async function () {
  var token = await call('refreshAccessToken')
  check(token.access_token && token.refresh_token, JSON.stringify(token))
  var info = await call('getCompanyInfo', process.env.QBO_REALM)
  check(info.CompanyName, 'companyinfo after refresh failed')
})

;(async function () {
  var failures = 0
  for (var i = 0; i < steps.length; i++) {
    try {
      await steps[i][1]()
      console.log(JSON.stringify({ step: steps[i][0], ok: true }))
    } catch (err) {
      failures++
      var message = err && err.Fault ? JSON.stringify(err.Fault) : (err && err.message) || JSON.stringify(err)
      console.log(JSON.stringify({ step: steps[i][0], ok: false, error: String(message).slice(0, 500) }))
    }
  }
  process.exit(failures ? 1 : 0)
})()
